import { open } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';

/** Read size: two buffers of this size are all the memory a download holds. */
const CHUNK = 1024 * 1024;

/**
 * Streams a file as the whole response body, with a `Content-Length` (no chunked framing), through two buffers
 * reused for the whole download: a fresh buffer per read (as `fs.ReadStream` allocates) is a fresh mmap and page
 * faults for every chunk, which made the first download of a big batch in a process about half as fast as the next.
 * A read of the next chunk overlaps the socket write of the previous one.
 */
export async function sendFile(reply: FastifyReply, path: string, contentType: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    reply.hijack();
    const res = reply.raw;
    // Headers set so far by hooks (request-id): Fastify's own sending is bypassed after hijack.
    const headers = reply.getHeaders() as OutgoingHttpHeaders;
    res.writeHead(200, { ...headers, 'content-type': contentType, 'content-length': size });
    const bufs = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
    const written: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
    let failed = false;
    const write = (chunk: Buffer) =>
      new Promise<void>((resolve) => {
        res.write(chunk, (err) => {
          if (err) failed = true;
          resolve();
        });
      });
    let pos = 0;
    for (let i = 0; pos < size && !failed && !res.destroyed; i ^= 1) {
      await written[i]; // this buffer's last write has been handed to the socket
      const { bytesRead } = await fh.read(bufs[i]!, 0, Math.min(CHUNK, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      written[i] = write(bytesRead === CHUNK ? bufs[i]! : bufs[i]!.subarray(0, bytesRead));
    }
    await Promise.all(written);
    // A file that shrank under us (it cannot: spool files are complete and only ever deleted) would leave the
    // response short of its length; destroying the socket tells the client rather than hanging it.
    if (pos < size) res.destroy();
    else res.end();
  } finally {
    await fh.close();
  }
}
