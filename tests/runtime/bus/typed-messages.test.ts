/**
 * What the compiler says to a user of a typed runtime who misspells a type:
 * the errors a `tsc` run on a consumer prints, read with the compiler API
 * (the `*.test-d.ts` files check what compiles; not what the error names).
 * A runtime's bus carries the other side's map (`Across`): a post's or a
 * request's error must name this side's types, not that map.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const test = suite('typed events - compiler messages');

const root = fileURLToPath(new URL('../../../', import.meta.url));
const consumerPath = `${root}tests/runtime/bus/typed-messages.consumer.ts`;
const consumer = `
import { createRuntime, type Bus, type RemoteBus } from '../../../index.js';
interface Events { 'user.login': { readonly id: number }; 'order.created': { readonly total: number } }
interface AppInternal { 'app.health': { readonly ok: boolean } }
const runtime = createRuntime<Events, AppInternal>();
runtime.bus('external').post('usr.login', { id: 1 });
void runtime.bus('external').publish('usr.login', { id: 1 });
void runtime.bus('external').request('usr.login', { id: 1 });
void runtime.thread(0, 1).bus('external').post('usr.login', { id: 1 });
runtime.bus('internal').post('order.created', { total: 1 });
function log(bus: Bus | RemoteBus): void { void bus; }
log(runtime.bus('external'));
log(runtime.thread(0, 1).bus('external'));
`;

/** Each error the consumer gets, by its line, its chain of messages one a line. */
function errors(): Map<number, string> {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === consumerPath ? consumer : readFile(name));
  host.fileExists = (name) => name === consumerPath || fileExists(name);
  host.getSourceFile = (name, language, ...rest) =>
    name === consumerPath ? ts.createSourceFile(name, consumer, language) : getSourceFile(name, language, ...rest);
  const program = ts.createProgram([consumerPath], options, host);
  const file = program.getSourceFile(consumerPath);
  assert.ok(file, 'the consumer is part of the program');
  const found = new Map<number, string>();
  for (const diagnostic of program.getSemanticDiagnostics(file)) {
    const line = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line;
    found.set(line, ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
  }
  return found;
}

test('post, publish and request - a misspelled type is refused with the bus side\'s own types named', () => {
  const found = errors();
  const own = `'"user.login" | "order.created"'`;
  for (const line of [5, 6, 7, 8]) {
    const message = found.get(line)?.split('\n')[0] ?? '';
    assert.ok(message.includes(own), `line ${line}: ${message}`);
    assert.not.ok(message.includes('Across'), `line ${line} names the other side's map: ${message}`);
  }
  const internal = found.get(9)?.split('\n')[0] ?? '';
  assert.ok(internal.includes('"app.health"') && !internal.includes('Across'), internal);
  assert.is(found.size, 7);
});

test('a typed bus passed as an untyped Bus - refused in a few lines that say why', () => {
  const found = errors();
  for (const line of [11, 12]) {
    const message = found.get(line) ?? '';
    assert.ok(message.includes(`Types of property 'eventMap' are incompatible`), `line ${line}: ${message}`);
    assert.ok(message.includes('a function taking any typed bus is generic in the map'), `line ${line}: ${message}`);
    assert.ok(message.split('\n').length <= 6, `line ${line}: ${message}`);
  }
});

test.run();
