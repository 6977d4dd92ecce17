// Team: members, roles and invitations. Members see the roster only; the controls are
// hidden for them, and the database policies refuse the writes anyway (P4).
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, bpath, errorMessage } from '../api/client.ts';
import { useBusiness, useMe, type Role } from '../app/me.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { SelectField, TextField } from '../components/field.tsx';
import { formatDate, formatDateTime } from '../components/format.ts';
import { Alert, Empty, QueryView } from '../components/states.tsx';
import { toPage } from '../crm/types.ts';

interface Member {
  user_id: string;
  email: string;
  name?: string | null;
  role: Role;
  created_at?: string;
  joined_at?: string;
}

interface Invitation {
  id: string;
  email: string;
  role: Role;
  expires_at?: string;
  created_at?: string;
  accept_url?: string;
}

export function TeamSettings() {
  const { bid, role, canManage } = useBusiness();
  const me = useMe();
  const queryClient = useQueryClient();
  const [inviteEmail, setInviteEmail] = useState('');
  const [inviteRole, setInviteRole] = useState<Role>('member');
  const [removing, setRemoving] = useState<Member | null>(null);
  const [sent, setSent] = useState<{ email: string; link: string; mailSent: boolean } | null>(null);
  const members = useQuery({
    queryKey: ['members', bid],
    queryFn: async () => toPage<Member>(await api(bpath(bid, 'members')), 'members').items,
  });
  const invitations = useQuery({
    queryKey: ['invitations', bid],
    queryFn: async () => toPage<Invitation>(await api(bpath(bid, 'invitations')), 'invitations').items,
    enabled: canManage,
  });
  const invalidate = async () => {
    await queryClient.invalidateQueries({ queryKey: ['members', bid] });
    await queryClient.invalidateQueries({ queryKey: ['invitations', bid] });
  };
  const invite = useMutation({
    mutationFn: () =>
      api<{ link?: string; mail_sent?: boolean }>(bpath(bid, 'invitations'), {
        body: { email: inviteEmail, role: inviteRole },
      }),
    onSuccess: async (r) => {
      setSent({ email: inviteEmail, link: r?.link ?? '', mailSent: r?.mail_sent !== false });
      setInviteEmail('');
      await invalidate();
    },
  });
  const changeRole = useMutation({
    mutationFn: ({ uid, role: r }: { uid: string; role: Role }) =>
      api(bpath(bid, 'members', uid), { method: 'PATCH', body: { role: r } }),
    onSuccess: invalidate,
  });
  const removeMember = useMutation({
    mutationFn: (uid: string) => api(bpath(bid, 'members', uid), { method: 'DELETE' }),
    onSuccess: async () => {
      setRemoving(null);
      await invalidate();
    },
  });
  const revokeInvite = useMutation({
    mutationFn: (id: string) => api(bpath(bid, 'invitations', id), { method: 'DELETE' }),
    onSuccess: invalidate,
  });
  const anyError = changeRole.error ?? removeMember.error ?? revokeInvite.error;
  // Admins manage members and admins; only an owner may touch owners.
  const assignable: Role[] = role === 'owner' ? ['member', 'admin', 'owner'] : ['member', 'admin'];

  return (
    <div className="stack">
      {anyError && <Alert kind="error">{errorMessage(anyError)}</Alert>}
      <section aria-labelledby="members-h">
        <h2 id="members-h">Members</h2>
        <QueryView query={members}>
          {(items) => (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Member</th>
                    <th scope="col">Role</th>
                    <th scope="col">Joined</th>
                    {canManage && (
                      <th scope="col">
                        <span className="sr-only">Actions</span>
                      </th>
                    )}
                  </tr>
                </thead>
                <tbody>
                  {items.map((m) => {
                    const self = m.user_id === me.data?.user.id;
                    const editable = canManage && !self && (role === 'owner' || m.role !== 'owner');
                    return (
                      <tr key={m.user_id}>
                        <td>
                          {m.name ? `${m.name} · ` : ''}
                          {m.email}
                          {self ? ' (you)' : ''}
                        </td>
                        <td>
                          {editable ? (
                            <>
                              <label className="sr-only" htmlFor={`role-${m.user_id}`}>
                                Role of {m.email}
                              </label>
                              <select
                                id={`role-${m.user_id}`}
                                value={m.role}
                                onChange={(e) => changeRole.mutate({ uid: m.user_id, role: e.target.value as Role })}
                              >
                                {assignable.map((r) => (
                                  <option key={r} value={r}>
                                    {r}
                                  </option>
                                ))}
                              </select>
                            </>
                          ) : (
                            m.role
                          )}
                        </td>
                        <td>{formatDate(m.joined_at ?? m.created_at)}</td>
                        {canManage && (
                          <td>
                            {editable && (
                              <button type="button" onClick={() => setRemoving(m)}>
                                Remove<span className="sr-only"> {m.email}</span>
                              </button>
                            )}
                          </td>
                        )}
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </QueryView>
      </section>

      {canManage ? (
        <section className="card" aria-labelledby="invite-h">
          <h2 id="invite-h">Invite a teammate</h2>
          {invite.isError && <Alert kind="error">{errorMessage(invite.error)}</Alert>}
          {sent && (
            <Alert kind={sent.mailSent ? 'ok' : 'warn'}>
              {sent.mailSent
                ? `Invitation sent to ${sent.email}.`
                : `The invitation for ${sent.email} was created but the email could not be sent.`}
              {sent.link && (
                <>
                  {' '}
                  You can also pass on this link yourself (shown only now, valid for 7 days):{' '}
                  <span className="mono">{sent.link}</span>
                </>
              )}
            </Alert>
          )}
          <form
            className="inline-form"
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              invite.mutate();
            }}
          >
            <TextField
              label="Email"
              type="email"
              required
              value={inviteEmail}
              onChange={(e) => setInviteEmail(e.target.value)}
            />
            <SelectField label="Role" value={inviteRole} onChange={(e) => setInviteRole(e.target.value as Role)}>
              {assignable
                .filter((r) => r !== 'owner')
                .map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
            </SelectField>
            <button type="submit" className="primary" disabled={invite.isPending || !inviteEmail}>
              Send invitation
            </button>
          </form>
          <h3>Pending invitations</h3>
          <QueryView query={invitations}>
            {(items) =>
              items.length === 0 ? (
                <Empty>No pending invitations.</Empty>
              ) : (
                <ul className="list-plain">
                  {items.map((inv) => (
                    <li key={inv.id} className="row-between">
                      <span>
                        {inv.email} · {inv.role}{' '}
                        <span className="small muted">expires {formatDateTime(inv.expires_at)}</span>
                      </span>
                      <button type="button" onClick={() => revokeInvite.mutate(inv.id)}>
                        Revoke<span className="sr-only"> invitation for {inv.email}</span>
                      </button>
                    </li>
                  ))}
                </ul>
              )
            }
          </QueryView>
        </section>
      ) : (
        <p className="muted">Only owners and admins can invite people or change roles.</p>
      )}

      <ConfirmDialog
        open={removing !== null}
        title="Remove this member?"
        confirmLabel="Remove member"
        busy={removeMember.isPending}
        onConfirm={() => removing && removeMember.mutate(removing.user_id)}
        onCancel={() => setRemoving(null)}
      >
        <p>{removing?.email} will lose access to this business immediately.</p>
      </ConfirmDialog>
    </div>
  );
}
