import { useMutation } from '@tanstack/react-query';
import { api, errorMessage } from '../api/client.ts';

export function VerifyEmailBanner({ email }: { email: string }) {
  const resend = useMutation({ mutationFn: () => api('/auth/verify/resend', { method: 'POST', body: {} }) });
  return (
    <div className="banner banner-trial" role="note">
      <span>Confirm your email address ({email}) using the link we sent you.</span>
      {resend.isSuccess ? (
        <span>Sent. Check your inbox.</span>
      ) : resend.isError ? (
        <span>{errorMessage(resend.error)}</span>
      ) : (
        <button type="button" className="link-button" onClick={() => resend.mutate()} disabled={resend.isPending}>
          Send the link again
        </button>
      )}
    </div>
  );
}
