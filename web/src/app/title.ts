// Page titles name the screen ("Contacts · Capto"), so tabs, history and screen readers
// tell one screen from another. Layouts title the screens they know by path; a detail
// screen (a contact, a deal, a list) names its record itself.
import { useEffect } from 'react';
import { useLocation } from 'react-router';

export function usePageTitle(screen: string | null | undefined): void {
  useEffect(() => {
    document.title = screen ? `${screen} · Capto` : 'Capto';
  }, [screen]);
}

const PUBLIC: Record<string, string> = {
  '/': 'Capto — the CRM for loan officers',
  '/signin': 'Sign in',
  '/signup': 'Create your account',
  '/forgot-password': 'Forgot password',
  '/reset-password': 'Choose a new password',
  '/verify-email': 'Verify your email',
  '/accept-invitation': 'Join a team',
  '/invite/accept': 'Join a team',
  '/security': 'Security',
  '/privacy': 'Privacy Policy',
  '/terms': 'Terms of Service',
  '/contact': 'Contact us',
  '/onboarding': 'Welcome',
  '/new-business': 'New business',
};

const IN_BUSINESS: [RegExp, string][] = [
  [/^\/b\/[^/]+\/?$/, 'Dashboard'],
  [/^\/b\/[^/]+\/search$/, 'Search'],
  [/^\/b\/[^/]+\/contacts$/, 'Contacts'],
  [/^\/b\/[^/]+\/contacts\/trash$/, 'Trash'],
  [/^\/b\/[^/]+\/lists$/, 'Lists'],
  [/^\/b\/[^/]+\/import$/, 'Import contacts'],
  [/^\/b\/[^/]+\/pipeline$/, 'Pipeline'],
  [/^\/b\/[^/]+\/inbox(\/[^/]+)?$/, 'Inbox'],
  [/^\/b\/[^/]+\/templates$/, 'Templates'],
  [/^\/b\/[^/]+\/campaigns$/, 'Campaigns'],
  [/^\/b\/[^/]+\/campaigns\/[^/]+$/, 'Campaign'],
  [/^\/b\/[^/]+\/automations$/, 'Automations'],
  [/^\/b\/[^/]+\/ai-drafts$/, 'AI drafts'],
  [/^\/b\/[^/]+\/business-profile$/, 'Business Profile'],
  [/^\/b\/[^/]+\/business-profile\/reviews$/, 'Business Profile reviews'],
  [/^\/b\/[^/]+\/settings\/general$/, 'General settings'],
  [/^\/b\/[^/]+\/settings\/team$/, 'Team settings'],
  [/^\/b\/[^/]+\/settings\/integrations$/, 'Integrations'],
  [/^\/b\/[^/]+\/settings\/security$/, 'Security settings'],
];

/** The title of the screen at `pathname`, or null when the screen names itself. */
export function titleForPath(pathname: string): string | null {
  if (pathname in PUBLIC) return PUBLIC[pathname]!;
  for (const [re, title] of IN_BUSINESS) if (re.test(pathname)) return title;
  return null;
}

/** For layouts: title the screens known by path (detail screens set their own). */
export function usePathTitle(): void {
  const { pathname } = useLocation();
  useEffect(() => {
    const title = titleForPath(pathname);
    if (title) document.title = pathname === '/' ? title : `${title} · Capto`;
  }, [pathname]);
}
