/** A process found by `processesOf`. */
export interface FoundProcess {
  readonly pid: number;
  readonly command: string;
}

/** Live processes in process group `group`, or whose environment holds `token`. */
export function processesOf(owner: { group?: number; token?: string }): FoundProcess[];

/** True while `pid` runs: it exists and is not a zombie. */
export function isRunning(pid: number): boolean;

/** SIGKILLs `pid` (a negative pid: its process group); one already gone is no error. */
export function killProcess(pid: number): void;
