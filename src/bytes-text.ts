// A size as log messages say it: "512 MiB" to a tenth, "2.5 GiB" to a hundredth from 1 GiB on.

export function bytesText(bytes: number): string {
  return bytes >= 2 ** 30 ? `${Math.round((bytes / 2 ** 30) * 100) / 100} GiB` : `${Math.round((bytes / 2 ** 20) * 10) / 10} MiB`;
}
