/**
 * The `cel` attestation provider: a CEL expression over a resource's configuration document.
 * Expressions are parsed, bounded and planned once and cached; `evaluate` is synchronous so the
 * engine can run one compiled rule over many resources without promise overhead.
 */
import {
  type CelEnv,
  type CelInput,
  type CelValue,
  CelScalar,
  celEnv,
  celMap,
  celFunc,
  celType,
  isCelError,
  parse,
  plan,
} from '@bufbuild/cel';
import { sharedOutput } from '../core/evidence/output-evidence.ts';
import type { Attestation, Resource } from '../core/model.ts';
import type { AttestationProvider, ProviderOutcome } from '../core/ports/attestation-provider.ts';
import {
  type CelLimits,
  CelMeter,
  DEFAULT_CEL_LIMITS,
  METER_FUNCTION,
  analyzeAst,
  instrumentComprehensions,
  staticViolations,
} from './cel-bounds.ts';
import { cachedRe2 } from './cel-regex.ts';

/** A parsed, bounded and planned expression, reusable across resources; evaluate it with the provider that compiled it (its budget meter lives there). */
export interface CompiledCel {
  readonly expression: string;
  /** Runs the plan on bindings; returns the CEL value or a CEL error, never throws. */
  readonly program: (bindings: Record<string, CelInput>) => CelValue | Error;
  /** The evidence outputs of a true and a false result, shared by every run (hashed once). */
  readonly outputs: { readonly true: CelOutput; readonly false: CelOutput };
}

/** What a boolean run of an expression keeps as evidence. */
export interface CelOutput {
  readonly expression: string;
  readonly value: boolean;
}

export type CompileResult =
  | { readonly ok: true; readonly compiled: CompiledCel }
  | { readonly ok: false; readonly error: string };

export interface EvaluateOptions {
  /** Shown when the expression is false (the `message` param). */
  readonly message?: string;
  /** Wall-clock budget in ms; the provider's `maxEvalMs` when absent or larger. */
  readonly timeoutMs?: number;
}

export interface CelProviderOptions {
  readonly limits?: Partial<CelLimits>;
  /** Most compiled expressions kept; the oldest is dropped beyond it. @default 10000 */
  readonly cacheSize?: number;
}

/**
 * Checks resources with CEL. Params: `expression` (required, must evaluate to a bool) and
 * `message` (optional, shown on failure). The expression sees `resource` (the document), `type`,
 * `name` and `labels`. A missing field is an error in CEL, so rules test presence with `has()`.
 *
 * @example
 * const cel = new CelProvider();
 * const compiled = cel.compile('has(resource.BucketEncryption)');
 * if (compiled.ok) cel.evaluate(compiled.compiled, bucket, { message: 'bucket not encrypted' });
 */
export class CelProvider implements AttestationProvider {
  readonly name = 'cel';
  readonly limits: CelLimits;
  private readonly cacheSize: number;
  private readonly cache = new Map<string, CompileResult>();
  private readonly meter = new CelMeter();
  private readonly env: CelEnv;
  private lastDocument: unknown;
  private lastRoot: CelInput | undefined;

  constructor(options: CelProviderOptions = {}) {
    this.limits = { ...DEFAULT_CEL_LIMITS, ...options.limits };
    this.cacheSize = options.cacheSize ?? 10_000;
    const meter = this.meter;
    // One env per provider: the library caches its planner per env, and the meter closes over it.
    this.env = celEnv({
      re2: cachedRe2(),
      funcs: [
        celFunc(METER_FUNCTION, [CelScalar.DYN], CelScalar.DYN, (value) => {
          meter.tick();
          return value;
        }),
      ],
    });
  }

  validateParams(params: Readonly<Record<string, unknown>>): Array<[path: string, message: string]> {
    const problems: Array<[string, string]> = [];
    const { expression, message } = params;
    if (expression === undefined) problems.push(['expression', 'required']);
    else if (typeof expression !== 'string') problems.push(['expression', `must be a string, got ${typeName(expression)}`]);
    else if (expression.trim() === '') problems.push(['expression', 'must not be empty']);
    else {
      const result = this.compile(expression);
      if (!result.ok) problems.push(['expression', result.error]);
    }
    if (message !== undefined && typeof message !== 'string') {
      problems.push(['message', `must be a string, got ${typeName(message)}`]);
    }
    for (const key of Object.keys(params)) {
      if (key !== 'expression' && key !== 'message') problems.push([key, 'unknown parameter (expected expression, message)']);
    }
    return problems;
  }

  /** Parses, checks the static bounds and plans an expression; cached by its text. */
  compile(expression: string): CompileResult {
    const cached = this.cache.get(expression);
    if (cached !== undefined) return cached;
    const result = this.compileUncached(expression);
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    this.cache.set(expression, result);
    return result;
  }

  /** Runs a compiled expression on one resource, synchronously. Never throws. */
  evaluate(compiled: CompiledCel, resource: Resource, options: EvaluateOptions = {}): ProviderOutcome {
    const timeoutMs = Math.min(options.timeoutMs ?? this.limits.maxEvalMs, this.limits.maxEvalMs);
    this.meter.reset(this.limits.maxIterations, timeoutMs);
    let value: CelValue | Error;
    try {
      value = compiled.program({
        // Documents are JSON data by contract; values CEL cannot take surface as evaluation errors.
        // Only the top level is converted here; the library converts the rest lazily, as it is read.
        resource: this.rootOf(resource.spec.document ?? {}),
        type: resource.spec.type,
        name: resource.metadata.name,
        labels: resource.metadata.labels,
      });
    } catch (err) {
      value = err instanceof Error ? err : new Error(String(err));
    }
    const name = resource.metadata.name;
    // An exceeded budget fails the run even when `||`/`&&` absorbed the error value.
    if (this.meter.exceeded !== undefined) return errored(compiled.expression, this.meter.exceeded);
    if (value instanceof Error || isCelError(value)) return errored(compiled.expression, value.message);
    if (typeof value !== 'boolean') {
      return errored(compiled.expression, `expression must return a bool, got ${celType(value).name}`);
    }
    if (value) return { outcome: 'Passed', message: 'ok', output: compiled.outputs.true };
    return {
      outcome: 'Failed',
      message: options.message ?? `expression ${compiled.expression} is false for ${name}`,
      output: compiled.outputs.false,
    };
  }

  /**
   * The CEL value of a document as the library makes it of a plain object (a map of its own
   * entries, each converted when read), kept for the last document: a resource's rules run back
   * to back, and each converted the whole top level again (`Object.entries` and a `Map` per run).
   * Kept only for a frozen plain object the library would convert that way; anything else is
   * passed as it is, for the library to convert (or refuse) on each run as before.
   */
  private rootOf(document: unknown): CelInput {
    if (document === this.lastDocument && this.lastRoot !== undefined) return this.lastRoot;
    const root = isFrozenPlainObject(document) ? celMap(new Map(Object.entries(document) as Array<[string, CelInput]>)) : (document as CelInput);
    this.lastDocument = document;
    this.lastRoot = root;
    return root;
  }

  /** One run; a reconcile prepares the check once instead (`prepare`) and runs it on every resource. */
  attest(attestation: Attestation, resource: Resource): ProviderOutcome {
    return this.prepare(attestation)(resource);
  }

  /** `attest` with the attestation's params read and its expression compiled once. */
  prepare(attestation: Attestation): (resource: Resource) => ProviderOutcome {
    const { expression, message } = attestation.spec.params;
    if (typeof expression !== 'string') return () => errored(String(expression), 'param expression must be a string');
    const result = this.compile(expression);
    if (!result.ok) return () => errored(expression, result.error);
    const compiled = result.compiled;
    const options: EvaluateOptions = { message: typeof message === 'string' ? message : undefined, timeoutMs: attestation.spec.timeoutMs };
    return (resource) => this.evaluate(compiled, resource, options);
  }

  private compileUncached(expression: string): CompileResult {
    const tooLong = staticViolations(expression, undefined, this.limits);
    if (tooLong.length > 0) return { ok: false, error: tooLong.join('; ') };
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(expression);
    } catch (err) {
      return { ok: false, error: syntaxErrorText(err) };
    }
    const problems = staticViolations(expression, analyzeAst(parsed.expr), this.limits);
    if (problems.length > 0) return { ok: false, error: problems.join('; ') };
    instrumentComprehensions(parsed.expr);
    try {
      const run = plan(this.env, parsed);
      const outputs = { true: sharedOutput({ expression, value: true }), false: sharedOutput({ expression, value: false }) };
      return { ok: true, compiled: { expression, program: (bindings) => run(bindings), outputs } };
    } catch (err) {
      return { ok: false, error: `cannot plan expression: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
}

/**
 * A frozen object that the library's `toCel` turns into a map of its own entries: a plain
 * prototype, and no own `constructor` or `$typeName` (which it reads as a class or a protobuf
 * message). Frozen, so the map made of it once stays true.
 */
function isFrozenPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.isFrozen(value) &&
    Object.getPrototypeOf(value) === Object.prototype &&
    !Object.hasOwn(value, 'constructor') &&
    !('$typeName' in value)
  );
}

function errored(expression: string, why: string): ProviderOutcome {
  return { outcome: 'Errored', message: why, output: { expression, error: why } };
}

/** `<input>:1:12: found = but ...` from the parser becomes `syntax error at 1:12: found = but ...`. */
function syntaxErrorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const match = /^<input>:(\d+):(\d+): (.*)$/s.exec(text);
  if (match) return `syntax error at ${match[1]}:${match[2]}: ${match[3]}`;
  // Very deep nesting overflows the recursive-descent parser; report it as a bound, not a crash.
  if (err instanceof RangeError) return 'expression is nested too deeply';
  return `syntax error: ${text}`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}
