// Values /metrics derives by a division (milliseconds to seconds, percents to ratios) carry the
// binary fraction's noise when printed as they are: 5.1 ms / 1000 printed 0.0050999999999999995,
// which a reader of the scrape, a dashboard's legend or a copied alert threshold shows as is.
// Twelve significant digits hold every figure these come from (milliseconds with a fraction,
// percents with a few decimals) and leave the noise out.

/** `x` with the noise of a binary fraction left out (twelve significant digits). */
export function decimal(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(12)) : x;
}

/** Milliseconds as the seconds Prometheus names its durations in. */
export const secondsOfMs = (ms: number): number => decimal(ms / 1000);

/** A percent as the 0..1 ratio Prometheus names its shares in. */
export const ratioOfPercent = (percent: number): number => decimal(percent / 100);
