// Finds the processes a run left behind (Linux /proc; elsewhere `ps`, by
// process group only). Shared by the test runner and the chaos script.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * Live processes (not zombies, not this one) in process group `group`, or whose
 * environment holds `token`: a child started with `detached: true` leaves the
 * group but keeps the environment it inherited.
 *
 * @param {{ group?: number, token?: string }} owner
 * @returns {{ pid: number, command: string }[]}
 */
export function processesOf({ group, token }) {
  const found = [];
  if (existsSync('/proc/self/stat')) {
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // The fields after the command name (which may hold spaces and parentheses): state, ppid, pgrp, ...
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (state === 'Z' || state === 'X') continue; // dead, waiting to be reaped
        const inGroup = group !== undefined && Number(pgrp) === group;
        if (!inGroup && (token === undefined || !readFileSync(`/proc/${pid}/environ`, 'latin1').includes(token))) continue;
        found.push({ pid, command: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() });
      } catch {
        // Gone meanwhile, or another user's process.
      }
    }
    return found;
  }
  if (group === undefined) return found;
  const ps = spawnSync('ps', ['-A', '-o', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  for (const line of (ps.stdout ?? '').split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (match && Number(match[2]) === group && Number(match[1]) !== process.pid && !match[3].startsWith('Z')) {
      found.push({ pid: Number(match[1]), command: match[4] });
    }
  }
  return found;
}

/**
 * True while `pid` runs: it exists and is not a zombie (dead, only not yet reaped).
 *
 * @param {number} pid
 */
export function isRunning(pid) {
  if (existsSync('/proc/self/stat')) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** SIGKILLs `pid` (a negative pid: its process group); one already gone is no error. */
export function killProcess(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
