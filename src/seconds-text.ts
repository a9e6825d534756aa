// A duration as log messages say it: "3.4 s", to a tenth of a second.

export function secondsText(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
