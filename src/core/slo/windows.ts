/**
 * Multi-window, multi-burn-rate alerting (Google SRE workbook, ch. 5 "Alerting on SLOs"): an alert
 * fires when both the long and the short window burn faster than the factor. The factors are the
 * workbook's for a 30-day objective (2 % of the budget in 1 h, 5 % in 6 h, 10 % in 1 d and 3 d);
 * they are used unchanged for other windows, as the workbook's table is.
 */
export interface BurnRateAlertWindow {
  readonly severity: 'page' | 'ticket';
  readonly long: BurnWindowName;
  readonly short: BurnWindowName;
  readonly factor: number;
}

export const BURN_WINDOWS_MS = {
  '5m': 5 * 60_000,
  '30m': 30 * 60_000,
  '1h': 3_600_000,
  '2h': 2 * 3_600_000,
  '6h': 6 * 3_600_000,
  '1d': 86_400_000,
  '3d': 3 * 86_400_000,
} as const;

export type BurnWindowName = keyof typeof BURN_WINDOWS_MS;

export const BURN_WINDOW_NAMES = Object.keys(BURN_WINDOWS_MS) as BurnWindowName[];

export const BURN_RATE_ALERTS: readonly BurnRateAlertWindow[] = [
  { severity: 'page', long: '1h', short: '5m', factor: 14.4 },
  { severity: 'page', long: '6h', short: '30m', factor: 6 },
  { severity: 'ticket', long: '1d', short: '2h', factor: 3 },
  { severity: 'ticket', long: '3d', short: '6h', factor: 1 },
];

/**
 * How fast the budget burns over a window: (1 - SLI) / (1 - target); 1 spends it exactly over
 * the objective's window. With a target of 1 there is no budget: 0 while nothing fails, else +Inf.
 */
export function burnRate(windowSli: number, target: number): number {
  const error = 1 - windowSli;
  const budget = 1 - target;
  if (error <= 0) return 0;
  return budget <= 0 ? Number.POSITIVE_INFINITY : error / budget;
}

/**
 * Share of the error budget left over the objective's window: 1 - (1 - SLI) / (1 - target).
 * 1 untouched, 0 spent, negative overspent (-Inf with a target of 1 and any failure).
 */
export function errorBudgetRemaining(windowSli: number, target: number): number {
  return 1 - burnRate(windowSli, target);
}
