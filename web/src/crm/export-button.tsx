// "Export CSV" (owners and admins; the server refuses members). The download needs the
// bearer token, so it is fetched and handed to the browser as a blob: a plain link
// could not authenticate.
import { useState } from 'react';
import { apiResponse, bpath, errorMessage } from '../api/client.ts';

export function ExportContactsButton({ bid }: { bid: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function download() {
    setBusy(true);
    setError(null);
    try {
      const blob = await (await apiResponse(bpath(bid, 'contacts', 'export.csv'))).blob();
      const url = URL.createObjectURL(blob);
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
      setBusy(false);
    }
  }
  return (
    <>
      <button type="button" onClick={() => void download()} disabled={busy}>
        {busy ? 'Exporting…' : 'Export CSV'}
      </button>
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}
