// General: the business profile; deleting the business is for owners only (the server
// refuses it for anyone else — this screen only hides what would be refused).
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { api, bpath, errorMessage } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { SelectField, TextArea, TextField } from '../components/field.tsx';
import { formatDate } from '../components/format.ts';
import { Alert, QueryView } from '../components/states.tsx';

interface Business {
  id: string;
  name: string;
  nmls_number?: string | null;
  time_zone?: string;
  postal_address?: string | null;
  is_demo?: boolean;
  created_at?: string;
  trial?: { ends_at: string; active: boolean; days_left: number } | null;
}

// ICU (Chrome, Node) still lists the spellings IANA replaced; offer the current ones, which the
// server and PostgreSQL accept as well (docs/ARCHITECTURE.md §21). A business already on an old
// spelling keeps it selectable (the select below adds the current value).
const RENAMED: Record<string, string> = {
  'Africa/Asmera': 'Africa/Asmara',
  'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
  'America/Catamarca': 'America/Argentina/Catamarca',
  'America/Coral_Harbour': 'America/Atikokan',
  'America/Cordoba': 'America/Argentina/Cordoba',
  'America/Godthab': 'America/Nuuk',
  'America/Indianapolis': 'America/Indiana/Indianapolis',
  'America/Jujuy': 'America/Argentina/Jujuy',
  'America/Louisville': 'America/Kentucky/Louisville',
  'America/Mendoza': 'America/Argentina/Mendoza',
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Rangoon': 'Asia/Yangon',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'Europe/Kiev': 'Europe/Kyiv',
  'Pacific/Enderbury': 'Pacific/Kanton',
  'Pacific/Ponape': 'Pacific/Pohnpei',
  'Pacific/Truk': 'Pacific/Chuuk',
};
const TIME_ZONES: string[] = (() => {
  const zones = [...new Set(Intl.supportedValuesOf('timeZone').map((tz) => RENAMED[tz] ?? tz))].sort();
  return zones.includes('UTC') ? zones : ['UTC', ...zones];
})();

function ProfileForm({ bid, business, canEdit }: { bid: string; business: Business; canEdit: boolean }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(business.name);
  const [nmls, setNmls] = useState(business.nmls_number ?? '');
  const [timeZone, setTimeZone] = useState(business.time_zone ?? 'America/New_York');
  const [postal, setPostal] = useState(business.postal_address ?? '');
  const save = useMutation({
    mutationFn: () =>
      api(bpath(bid), {
        method: 'PATCH',
        body: {
          name: name.trim(),
          nmls_number: nmls.trim() || null,
          time_zone: timeZone,
          postal_address: postal.trim() || null,
        },
      }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['me'] });
      await queryClient.invalidateQueries({ queryKey: ['business', bid] });
    },
  });
  return (
    <form
      className="card"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <h2>Business profile</h2>
      {save.isError && <Alert kind="error">{errorMessage(save.error)}</Alert>}
      {save.isSuccess && <Alert kind="ok">Saved.</Alert>}
      <TextField label="Business name" value={name} onChange={(e) => setName(e.target.value)} disabled={!canEdit} />
      <TextField
        label="NMLS number"
        inputMode="numeric"
        value={nmls}
        onChange={(e) => setNmls(e.target.value)}
        disabled={!canEdit}
        hint="Your company's NMLS unique identifier, digits only."
      />
      <SelectField
        label="Time zone"
        value={timeZone}
        onChange={(e) => setTimeZone(e.target.value)}
        disabled={!canEdit}
        hint="Quiet hours for text campaigns (8:00–21:00) and scheduled sends use this time zone."
      >
        {(TIME_ZONES.includes(timeZone) ? TIME_ZONES : [timeZone, ...TIME_ZONES]).map((tz) => (
          <option key={tz} value={tz}>
            {tz}
          </option>
        ))}
      </SelectField>
      <TextArea
        label="Postal address"
        value={postal}
        rows={3}
        maxLength={500}
        onChange={(e) => setPostal(e.target.value)}
        disabled={!canEdit}
        hint="Printed in the footer of every campaign email (required by CAN-SPAM before your first email campaign)."
      />
      <p className="small muted">
        Created {formatDate(business.created_at)}
        {business.trial ? ` · trial ends ${formatDate(business.trial.ends_at)}` : ''}
      </p>
      {canEdit ? (
        <button type="submit" className="primary" disabled={save.isPending || !name.trim()}>
          Save
        </button>
      ) : (
        <p className="small muted">Only owners and admins can change the profile.</p>
      )}
    </form>
  );
}

export function GeneralSettings() {
  const { bid, role, canManage } = useBusiness();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const [typed, setTyped] = useState('');
  const business = useQuery({
    queryKey: ['business', bid],
    queryFn: async () => {
      const raw = await api<Business & { business?: Business }>(bpath(bid));
      return raw.business ?? raw;
    },
  });
  const remove = useMutation({
    mutationFn: () => api(bpath(bid), { method: 'DELETE', body: { confirm_name: typed } }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['me'] });
      navigate('/app', { replace: true });
    },
  });
  return (
    <QueryView query={business}>
      {(b) => (
        <div className="stack">
          <ProfileForm key={b.name} bid={bid} business={b} canEdit={canManage} />
          {role === 'owner' && (
            <section className="card">
              <h2>Delete this business</h2>
              <p>Deletes every contact, list, deal, conversation and integration of {b.name}. This cannot be undone.</p>
              {remove.isError && <Alert kind="error">{errorMessage(remove.error)}</Alert>}
              <button type="button" className="danger" onClick={() => setConfirm(true)}>
                Delete business…
              </button>
              <ConfirmDialog
                open={confirm}
                title={`Delete ${b.name}?`}
                confirmLabel="Delete forever"
                busy={remove.isPending}
                onConfirm={() => remove.mutate()}
                onCancel={() => {
                  setConfirm(false);
                  setTyped('');
                }}
              >
                <TextField
                  label={`Type “${b.name}” to confirm`}
                  value={typed}
                  onChange={(e) => setTyped(e.target.value)}
                />
              </ConfirmDialog>
            </section>
          )}
        </div>
      )}
    </QueryView>
  );
}
