// "Export CSV" (owners and admins; the server refuses members). The download needs the
// bearer token, so it is fetched and handed to the browser as a blob: a plain link
// could not authenticate. The server streams the file page by page; the button shows how
// much has arrived, so a large export visibly progresses instead of sitting on "Exporting…".
import { useState } from 'react';
import { apiResponse, bpath, errorMessage } from '../api/client.ts';

/** 1.2 MB, 350 KB: the size received so far. */
function size(bytes: number): string {
  if (bytes >= 1_000_000) return `${(bytes / 1_000_000).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1000))} KB`;
}

export function ExportContactsButton({ bid }: { bid: string }) {
  const [received, setReceived] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function download() {
    setReceived(0);
    setError(null);
    try {
      const res = await apiResponse(bpath(bid, 'contacts', 'export.csv'));
      const chunks: BlobPart[] = [];
      let bytes = 0;
      const reader = res.body?.getReader();
      if (reader) {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          bytes += value.byteLength;
          setReceived(bytes);
        }
      } else {
        chunks.push(await res.blob());
      }
      const url = URL.createObjectURL(new Blob(chunks, { type: res.headers.get('content-type') ?? 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = 'contacts.csv';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setReceived(null);
    }
  }
  const busy = received !== null;
  return (
    <>
      <button type="button" onClick={() => void download()} disabled={busy}>
        {!busy ? 'Export CSV' : received > 0 ? `Exporting… ${size(received)}` : 'Exporting…'}
      </button>
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}
