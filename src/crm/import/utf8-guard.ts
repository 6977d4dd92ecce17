// Byte-level gate in front of the CSV parser: enforces the upload size limit while
// streaming and refuses anything that is not well-formed UTF-8, naming the line of
// the first bad byte. Decoding with replacement characters instead would silently
// import "M�ller" into a customer record; a spreadsheet saved as Windows-1252 or
// UTF-16 must be re-saved, and the user must be told where.
import { Transform, type TransformCallback } from 'node:stream';
import { AppError } from '../../shared/errors.ts';

export class Utf8Guard extends Transform {
  private line = 1;
  private bytes = 0;
  /** Continuation bytes still expected by the current multi-byte sequence. */
  private pending = 0;
  /** Lower/upper bound of the next continuation byte (stops overlongs and surrogates). */
  private lo = 0x80;
  private hi = 0xbf;
  private first = true;

  private readonly maxBytes: number;

  constructor(maxBytes: number) {
    super();
    this.maxBytes = maxBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(new AppError('import_too_large', `the file is larger than ${Math.floor(this.maxBytes / (1024 * 1024))} MB`));
      return;
    }
    if (this.first && chunk.length >= 2) {
      this.first = false;
      if ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff)) {
        done(invalidEncoding(1, 'the file is UTF-16; save it as "CSV UTF-8" and upload it again'));
        return;
      }
    }
    const bad = this.scan(chunk);
    if (bad !== undefined) {
      done(
        invalidEncoding(
          bad,
          `the file is not valid UTF-8 (first bad byte on line ${bad}); save it as "CSV UTF-8" and upload it again`,
        ),
      );
      return;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.pending > 0)
      done(invalidEncoding(this.line, `the file ends in the middle of a UTF-8 character (line ${this.line})`));
    else done();
  }

  /** Returns the line number of the first invalid byte, or undefined when the chunk is valid so far. */
  private scan(chunk: Buffer): number | undefined {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.pending > 0) {
        if (b < this.lo || b > this.hi) return this.line;
        this.lo = 0x80;
        this.hi = 0xbf;
        this.pending--;
        continue;
      }
      if (b === 0x0a) this.line++;
      if (b < 0x80) {
        if (b === 0x00) return this.line; // NUL: binary data, never text a user typed
        continue;
      }
      // RFC 3629 table 3-7: lead bytes and the restricted range of their first continuation byte.
      if (b >= 0xc2 && b <= 0xdf) this.pending = 1;
      else if (b === 0xe0) [this.pending, this.lo] = [2, 0xa0];
      else if (b === 0xed) [this.pending, this.hi] = [2, 0x9f];
      else if (b >= 0xe1 && b <= 0xef) this.pending = 2;
      else if (b === 0xf0) [this.pending, this.lo] = [3, 0x90];
      else if (b >= 0xf1 && b <= 0xf3) this.pending = 3;
      else if (b === 0xf4) [this.pending, this.hi] = [3, 0x8f];
      else return this.line;
    }
    return undefined;
  }
}

function invalidEncoding(line: number, message: string): AppError {
  return new AppError('invalid_csv', message, { details: { line, reason: 'encoding' } });
}
