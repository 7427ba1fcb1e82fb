import { LineSplitter } from '../../text/lines.ts';

/**
 * Incremental splitter for newline-delimited JSON (Ollama's streams,
 * `application/x-ndjson`): fed bytes as they pass, it hands back the bytes of
 * the lines now complete, each given to `onLine` first (trimmed; blank lines
 * pass unread; a false return stops the stream at that line). An unfinished
 * line is held, up to `maxLineBytes`: past it the splitter stops with
 * `overflowed` set, so a server that never sends a newline costs bounded
 * memory. At the end, a last line without its newline counts if it is valid.
 */
export class NdjsonSplitter extends LineSplitter {
  constructor(onLine: (line: string) => boolean, maxLineBytes = Number.POSITIVE_INFINITY) {
    super((buf, start, end) => {
      const text = buf.toString('utf8', start, end).trim();
      return text === '' || onLine(text) ? 'complete' : 'refuse';
    }, maxLineBytes);
  }
}
