/**
 * Preloaded (`--require`) into every process and worker thread of a
 * `npm run soak -- --breakdown` run: every second, each JS thread (V8
 * isolate) writes its own heap statistics to
 * `$BUSLINE_SOAK_HEAP_DIR/<pid>-<threadId>.json`, which the soak reads.
 * V8 and `process.memoryUsage()` report only the isolate they run in: a
 * worker thread's heap is seen from inside it alone.
 */
'use strict';
const { writeFileSync, renameSync } = require('node:fs');
const { join } = require('node:path');
const v8 = require('node:v8');
const { threadId, isMainThread, workerData } = require('node:worker_threads');

const dir = process.env.BUSLINE_SOAK_HEAP_DIR;
if (dir !== undefined) {
  const file = join(dir, `${process.pid}-${threadId}.json`);
  const write = () => {
    const { external, arrayBuffers } = process.memoryUsage();
    const spaces = {};
    for (const space of v8.getHeapSpaceStatistics()) {
      spaces[space.space_name] = { size: space.space_size, used: space.space_used_size, physical: space.physical_space_size };
    }
    // A runtime worker's envelope names it; another worker (a loader's hooks thread) has no name.
    const name = isMainThread ? 'main' : typeof workerData?.name === 'string' ? workerData.name : 'other';
    const record = { pid: process.pid, threadId, name, heap: v8.getHeapStatistics(), spaces, external, arrayBuffers };
    // Written aside and renamed: the soak never reads half a file.
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(record));
      renameSync(`${file}.tmp`, file);
    } catch {
      // The directory went (the soak ended) or the disk is full: a report is skipped, the thread goes on.
    }
  };
  write();
  setInterval(write, 1000).unref();
}
