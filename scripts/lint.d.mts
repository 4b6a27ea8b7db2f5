/** The source set, relative to the root: files and folders. */
export const SOURCES: readonly string[];
/** Folders (relative to the root) of generated code, left out of both rules. */
export const GENERATED: readonly string[];
/** The longest a source module may be, in lines. */
export const MAX_LINES: number;

/** What `lint` finds below one root. */
export interface LintResult {
  /** Root-relative, `/`-separated paths of the modules read, sorted. */
  readonly modules: string[];
  /** Each cycle as a chain of modules that starts and ends with the same one. */
  readonly cycles: string[][];
  readonly oversized: { readonly module: string; readonly lines: number }[];
  readonly maxLines: number;
}

/** The source modules below `root`, sorted. */
export function sourceModules(root: string): string[];

/** The relative module specifiers `text` imports or re-exports statically (`import type` included, `import()` not). */
export function importedSpecifiers(file: string, text: string): string[];

/** The import cycles of a module graph (module → modules it imports): every import on a cycle appears in a chain. */
export function importCycles(graph: ReadonlyMap<string, Iterable<string>>): string[][];

/** Lints the source modules below `root`: import cycles and modules longer than `maxLines` (default 600). */
export function lint(root: string, options?: { maxLines?: number }): LintResult;

/** The lines `npm run lint` prints for a result, ending with a summary line. */
export function formatReport(result: LintResult): string;
