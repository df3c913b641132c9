/**
 * Bounds on what one CEL expression may cost, so a hostile or careless expression cannot hang
 * the engine that evaluates it on 100k+ resources.
 *
 * `@bufbuild/cel` 0.6.1 has no cost limit, no step counter and no interrupt, so Argus adds two
 * layers of its own:
 * - static, at compile time (and so at `validateParams`): expression length, AST size,
 *   comprehension nesting depth, and a lower bound of loop iterations over literal lists
 *   (`[1,2,3].all(x, [1,2,3].all(...))` is rejected when the product exceeds the budget);
 * - dynamic, at evaluation time: every comprehension's loop condition is wrapped in a call to a
 *   hidden function that counts iterations against a budget and checks a wall-clock deadline.
 *   The fold loop of the library returns as soon as its condition is an error, so an exceeded
 *   budget unwinds every enclosing loop in O(depth) instead of finishing the work.
 * Without loops, CEL work is linear in the AST size (no recursion, no user functions), and
 * `matches` uses RE2 semantics (re2js), so regexes cannot backtrack exponentially.
 */
import type { parse } from '@bufbuild/cel';

/** The protobuf AST node of a parsed expression (not re-exported by `@bufbuild/cel`). */
export type CelExpr = ReturnType<typeof parse>['expr'];

export interface CelLimits {
  /** Longest expression accepted, in characters. @default 4096 */
  readonly maxExpressionLength: number;
  /** Most AST nodes accepted (macros count after expansion). @default 2000 */
  readonly maxAstNodes: number;
  /** Deepest nesting of comprehensions (`all`, `exists`, `map`, ...) in loop bodies. @default 3 */
  readonly maxComprehensionDepth: number;
  /** Loop iterations allowed per evaluation, all comprehensions together. @default 100000 */
  readonly maxIterations: number;
  /** Wall-clock budget of one evaluation, in milliseconds. @default 100 */
  readonly maxEvalMs: number;
}

export const DEFAULT_CEL_LIMITS: CelLimits = {
  maxExpressionLength: 4096,
  maxAstNodes: 2000,
  maxComprehensionDepth: 3,
  maxIterations: 100_000,
  maxEvalMs: 100,
};

/**
 * Name of the hidden metering function. `@` cannot start an identifier in CEL source, so
 * expressions cannot call or shadow it.
 */
export const METER_FUNCTION = '@argus.meter';

/** Thrown inside the metering function; the library turns it into a CEL error value. */
export class CelBudgetExceeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CelBudgetExceededError';
  }
}

/** Counts loop iterations of one evaluation; reset before each one. Evaluation is synchronous. */
export class CelMeter {
  private iterations = 0;
  private maxIterations = 0;
  private deadline = 0;
  /** Set once the budget is exceeded, so an error absorbed by `||`/`&&` still fails the run. */
  exceeded: string | undefined;

  reset(maxIterations: number, maxEvalMs: number): void {
    this.iterations = 0;
    this.maxIterations = maxIterations;
    this.deadline = performance.now() + maxEvalMs;
    this.exceeded = undefined;
  }

  tick(): void {
    if (this.exceeded !== undefined) throw new CelBudgetExceeded(this.exceeded);
    this.iterations += 1;
    if (this.iterations > this.maxIterations) {
      this.exceeded = `evaluation exceeded ${this.maxIterations} loop iterations`;
    } else if ((this.iterations & 63) === 0 && performance.now() > this.deadline) {
      // Checking the clock every 64 iterations keeps the meter cheap on the hot path.
      this.exceeded = `evaluation exceeded its time budget`;
    }
    if (this.exceeded !== undefined) throw new CelBudgetExceeded(this.exceeded);
  }
}

export interface AstStats {
  readonly nodes: number;
  readonly maxComprehensionDepth: number;
  /** Iterations certain to run: product of literal list/map sizes along nested loops. */
  readonly minIterations: number;
}

/** Sizes and depths of a parsed expression. */
export function analyzeAst(root: CelExpr): AstStats {
  let nodes = 0;
  let maxDepth = 0;

  // Returns the iterations the subtree is certain to run once evaluated (literal ranges only).
  const walk = (expr: CelExpr | undefined, depth: number): number => {
    if (expr === undefined) return 0;
    nodes += 1;
    if (expr.exprKind.case !== 'comprehensionExpr') {
      return childrenOf(expr).reduce((sum, child) => sum + walk(child, depth), 0);
    }
    const c = expr.exprKind.value;
    const inner = depth + 1;
    maxDepth = Math.max(maxDepth, inner);
    const outside = walk(c.iterRange, depth) + walk(c.accuInit, depth) + walk(c.result, inner);
    const perIteration = 1 + walk(c.loopCondition, inner) + walk(c.loopStep, inner);
    return outside + literalSize(c.iterRange) * perIteration;
  };

  const minIterations = walk(root, 0);
  return { nodes, maxComprehensionDepth: maxDepth, minIterations };
}

/** Direct sub-expressions of a node. */
function childrenOf(expr: CelExpr): CelExpr[] {
  const kind = expr.exprKind;
  const out: Array<CelExpr | undefined> = [];
  switch (kind.case) {
    case 'selectExpr':
      out.push(kind.value.operand);
      break;
    case 'callExpr':
      out.push(kind.value.target, ...kind.value.args);
      break;
    case 'listExpr':
      out.push(...kind.value.elements);
      break;
    case 'structExpr':
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') out.push(entry.keyKind.value);
        out.push(entry.value);
      }
      break;
    case 'comprehensionExpr': {
      const c = kind.value;
      out.push(c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result);
      break;
    }
    default:
      break;
  }
  return out.filter((e): e is CelExpr => e !== undefined);
}

/** Element count of a literal list or map; 0 when only known at run time. */
function literalSize(expr: CelExpr | undefined): number {
  if (expr === undefined) return 0;
  if (expr.exprKind.case === 'listExpr') return expr.exprKind.value.elements.length;
  if (expr.exprKind.case === 'structExpr' && expr.exprKind.value.messageName === '') {
    return expr.exprKind.value.entries.length;
  }
  return 0;
}

/** The static limits an expression breaks, as readable messages (empty when within bounds). */
export function staticViolations(expression: string, stats: AstStats | undefined, limits: CelLimits): string[] {
  const problems: string[] = [];
  if (expression.length > limits.maxExpressionLength) {
    problems.push(`expression is ${expression.length} characters long, the limit is ${limits.maxExpressionLength}`);
  }
  if (stats === undefined) return problems;
  if (stats.nodes > limits.maxAstNodes) {
    problems.push(`expression has ${stats.nodes} nodes, the limit is ${limits.maxAstNodes}`);
  }
  if (stats.maxComprehensionDepth > limits.maxComprehensionDepth) {
    problems.push(
      `comprehensions (all/exists/map/filter) are nested ${stats.maxComprehensionDepth} deep, the limit is ${limits.maxComprehensionDepth}`,
    );
  }
  if (stats.minIterations > limits.maxIterations) {
    problems.push(`expression runs at least ${stats.minIterations} loop iterations, the limit is ${limits.maxIterations}`);
  }
  return problems;
}

/**
 * Wraps every comprehension's loop condition in `METER_FUNCTION(cond)`, in place. The meter
 * returns its argument unchanged, or an error once the budget is spent, which stops the loop.
 */
export function instrumentComprehensions(root: CelExpr): void {
  let nextId = maxId(root) + 1n;
  const visit = (expr: CelExpr): void => {
    childrenOf(expr).forEach(visit);
    if (expr.exprKind.case === 'comprehensionExpr' && expr.exprKind.value.loopCondition !== undefined) {
      expr.exprKind.value.loopCondition = meterCall(nextId, expr.exprKind.value.loopCondition);
      nextId += 1n;
    }
  };
  visit(root);
}

function meterCall(id: bigint, arg: CelExpr): CelExpr {
  // Same shape the parser produces for a global call `f(arg)`; the planner only reads these fields.
  return {
    $typeName: 'cel.expr.Expr',
    id,
    exprKind: {
      case: 'callExpr',
      value: { $typeName: 'cel.expr.Expr.Call', function: METER_FUNCTION, args: [arg] },
    },
  };
}

function maxId(root: CelExpr): bigint {
  let max = 0n;
  const stack: CelExpr[] = [root];
  for (let expr = stack.pop(); expr !== undefined; expr = stack.pop()) {
    if (expr.id > max) max = expr.id;
    stack.push(...childrenOf(expr));
  }
  return max;
}
