/**
 * Collects a child's stdout+stderr: the last lines stay in memory (so failures can quote them)
 * and everything is optionally teed to a log file for post-mortem reading.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

export type LineListener = (line: string) => void;

export class OutputTail {
  private readonly lines: string[] = [];
  private readonly listeners = new Set<LineListener>();
  private readonly file: WriteStream | undefined;
  private fileOpen = true;

  constructor(
    readonly logFile?: string,
    private readonly maxLines = 300,
  ) {
    this.file = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
    // A log file we cannot write must not crash the test process.
    this.file?.on('error', () => (this.fileOpen = false));
  }

  /** Starts consuming a stream; lines are split per stream so stdout and stderr never interleave mid-line. */
  attach(stream: Readable | null): void {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      if (this.file && this.fileOpen) this.file.write(chunk);
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) this.push(line);
    });
    stream.on('end', () => {
      if (partial) this.push(partial);
      partial = '';
    });
    stream.on('error', () => undefined);
  }

  /** Subscribes to every later line; returns the unsubscribe function. */
  onLine(listener: LineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** All buffered lines, so a listener added late can also check what was already printed. */
  snapshot(): readonly string[] {
    return this.lines;
  }

  text(maxLines = 60): string {
    return this.lines.slice(-maxLines).join('\n');
  }

  /** Flushes and closes the log file (idempotent). */
  close(): Promise<void> {
    const file = this.file;
    if (!file || !this.fileOpen) return Promise.resolve();
    this.fileOpen = false;
    return new Promise((resolve) => file.end(() => resolve()));
  }

  private push(line: string): void {
    const clean = line.replace(/\r$/, '');
    this.lines.push(clean);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
    for (const listener of this.listeners) listener(clean);
  }
}
