// Members and invitations of one business (docs/ARCHITECTURE.md §13).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BEARER_SECURITY, callerOf } from '../server/authenticate.ts';
import { rateLimitedResponse } from '../server/error-schemas.ts';
import { tenancyTx } from './db-errors.ts';
import { createInvitationLimits } from './invitation-limits.ts';
import { checkInvitation, createInvitation, listInvitations, revokeInvitation } from './invitations.ts';
import { changeRole, listMembers, removeMember } from './members.ts';
import type { TenancyDeps } from './deps.ts';
import {
  businessParams,
  changeRoleBody,
  createdInvitationSchema,
  invitationParams,
  invitationSchema,
  inviteBody,
  memberParams,
  memberSchema,
} from './schemas.ts';

const SECURED = BEARER_SECURITY;
const TAGS = ['workspaces'];

// Mail headers and bodies carry user-chosen names: no control characters.
const plain = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200);

export async function teamRoutes(root: FastifyInstance, deps: TenancyDeps): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db, config, logger, mailer } = deps;
  const limits = createInvitationLimits({ config, db, logger, keySecret: deps.rateKeySecret });
  root.addHook('onClose', async () => limits.close());

  app.get(
    '/api/businesses/:bid/members',
    {
      schema: {
        tags: TAGS,
        summary: 'Members of the business',
        security: SECURED,
        params: businessParams,
        response: { 200: z.object({ members: z.array(memberSchema) }) },
      },
    },
    async (request) => ({ members: await tenancyTx(db, request, (tx) => listMembers(tx, request.params.bid)) }),
  );

  app.patch(
    '/api/businesses/:bid/members/:uid',
    {
      schema: {
        tags: TAGS,
        summary: 'Change a member’s role (owners: any role; admins: member ↔ admin, never an owner)',
        security: SECURED,
        params: memberParams,
        body: changeRoleBody,
        response: { 200: memberSchema },
      },
    },
    async (request) => {
      const { sub } = callerOf(request);
      const { bid, uid } = request.params;
      const member = await tenancyTx(db, request, (tx) => changeRole(tx, bid, uid, request.body.role));
      logger.info({ business_id: bid, user_id: sub, target_user_id: uid, role: member.role }, 'member role changed');
      return member;
    },
  );

  app.delete(
    '/api/businesses/:bid/members/:uid',
    {
      schema: {
        tags: TAGS,
        summary:
          'Remove a member (admin+, owners only by owners), or leave when :uid is yourself; never the last owner',
        security: SECURED,
        params: memberParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const { sub } = callerOf(request);
      const { bid, uid } = request.params;
      await tenancyTx(db, request, (tx) => removeMember(tx, bid, sub, uid));
      logger.info(
        { business_id: bid, user_id: sub, target_user_id: uid },
        uid === sub ? 'member left' : 'member removed',
      );
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/businesses/:bid/invitations',
    {
      schema: {
        tags: TAGS,
        summary: 'Invite an email with a role (owner/admin; only owners invite owners). The token is shown once.',
        description:
          'Each invitation mails the address. Limited per inviter, per business and per invited address ' +
          '(CAPTO_INVITE_RATE_*): beyond a limit the answer is 429 rate_limited with retry_after and ' +
          '`limit` (inviter | business | recipient), and nothing is created or mailed.',
        security: SECURED,
        params: businessParams,
        body: inviteBody,
        response: { 201: createdInvitationSchema, 429: rateLimitedResponse },
      },
    },
    async (request, reply) => {
      const { sub, sid } = callerOf(request);
      const { bid } = request.params;
      const { email, role } = request.body;
      // Refusals that need no budget first (role, demo, already a member), then the
      // budgets, then the writes — which check again, in their own transaction.
      await tenancyTx(db, request, (tx) => checkInvitation(tx, bid, email, role));
      await limits.admit(request, { inviterId: sub, sessionId: sid ?? null, businessId: bid, email });
      const created = await tenancyTx(db, request, async (tx) => {
        const c = await createInvitation(tx, bid, sub, email, role);
        const inviter = await tx.query<{ email: string }>('SELECT email::text AS email FROM auth.users WHERE id = $1', [
          sub,
        ]);
        return { ...c, inviter: inviter.rows[0]?.email ?? 'A teammate' };
      });
      // The token rides in the fragment: a fragment never reaches a server log or a
      // Referer header (the web app reads #token= and ?token= alike). The invited address
      // rides along so the sign-up form can be pre-filled with it.
      const link = `${config.publicUrl}/invite/accept#token=${created.token}&email=${encodeURIComponent(created.invitation.email)}`;
      // Mail after the commit: never a link to an invitation that was rolled back. If
      // sending fails the invitation stands and the inviter still has the link.
      let mailSent = true;
      try {
        await mailer.send({
          to: created.invitation.email,
          subject: `You're invited to join ${plain(created.business.name)} on Capto`,
          text: [
            `${plain(created.inviter)} invited you to join ${plain(created.business.name)} on Capto as ${created.invitation.role}.`,
            '',
            `Accept the invitation: ${link}`,
            '',
            'Sign in (or sign up) with this email address, verified, to accept. The link works once and expires in 7 days.',
            'If you did not expect this invitation, ignore this email.',
          ].join('\n'),
        });
      } catch (e) {
        mailSent = false;
        logger.error(
          { err: e, business_id: bid, invitation_id: created.invitation.id },
          'could not send the invitation mail',
        );
      }
      logger.info(
        { business_id: bid, user_id: sub, invitation_id: created.invitation.id, role: created.invitation.role },
        'invitation created',
      );
      return reply
        .status(201)
        .send({ invitation: created.invitation, token: created.token, link, mail_sent: mailSent });
    },
  );

  app.get(
    '/api/businesses/:bid/invitations',
    {
      schema: {
        tags: TAGS,
        summary: 'Open invitations (owner/admin)',
        security: SECURED,
        params: businessParams,
        response: { 200: z.object({ invitations: z.array(invitationSchema) }) },
      },
    },
    async (request) => ({ invitations: await tenancyTx(db, request, (tx) => listInvitations(tx, request.params.bid)) }),
  );

  app.delete(
    '/api/businesses/:bid/invitations/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Revoke an invitation (owner/admin; owner invitations: owners only)',
        security: SECURED,
        params: invitationParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const { bid, id } = request.params;
      await tenancyTx(db, request, (tx) => revokeInvitation(tx, bid, id));
      logger.info({ business_id: bid, user_id: callerOf(request).sub, invitation_id: id }, 'invitation revoked');
      return reply.status(204).send(null);
    },
  );
}
