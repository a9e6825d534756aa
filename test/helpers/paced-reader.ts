// A client that reads its answer slowly: at most `bytesPerTick` each `tickMs`, pausing the socket
// in between, so a server's large answer goes out over seconds while the client keeps reading.

import type { Socket } from 'node:net';

export interface PacedReader {
  /** Bytes read so far. */
  received(): number;
  /** Stops the pacing (the socket is left as it is). */
  stop(): void;
}

export function readPaced(socket: Socket, bytesPerTick = 512 * 1024, tickMs = 100): PacedReader {
  let received = 0;
  let inWindow = 0;
  const pace = setInterval(() => {
    inWindow = 0;
    socket.resume();
  }, tickMs);
  socket.on('data', (d: Buffer) => {
    received += d.length;
    inWindow += d.length;
    if (inWindow >= bytesPerTick) socket.pause();
  });
  return { received: () => received, stop: () => clearInterval(pace) };
}
