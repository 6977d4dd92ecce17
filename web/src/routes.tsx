import { createBrowserRouter, Link, Navigate, useRouteError } from 'react-router';
import { CustomFieldsSettings } from './crm/custom-fields.tsx';
import { NotificationSettings } from './app/notifications.tsx';
import { AppHome } from './app/app-home.tsx';
import { Dashboard } from './app/dashboard.tsx';
import { NewBusinessPage } from './app/new-business.tsx';
import { RequireAuth } from './app/require-auth.tsx';
import { SearchPage } from './app/search.tsx';
import { SettingsIntegrationsRedirect } from './app/settings-redirect.tsx';
import { AppShell } from './app/shell.tsx';
import { ContactDetail } from './crm/contact-detail.tsx';
import { ContactTrashPage } from './crm/contact-trash.tsx';
import { DealDetail } from './crm/deal-detail.tsx';
import { ContactsPage } from './crm/contacts.tsx';
import { ImportWizard } from './crm/import-wizard.tsx';
import { InboxPage } from './crm/inbox.tsx';
import { DraftsPage } from './ai/drafts.tsx';
import { ListDetail, ListsPage } from './crm/lists.tsx';
import { PipelinePage } from './crm/pipeline.tsx';
import { CampaignDetail, CampaignsPage } from './outreach/campaigns.tsx';
import { AutomationDetail, AutomationsPage, NewAutomationPage } from './automations/automations.tsx';
import { TemplatesPage } from './outreach/templates.tsx';
import { BusinessProfileLayout } from './gbp/business-profile.tsx';
import { PostsPane } from './gbp/posts.tsx';
import { ReviewsPane } from './gbp/reviews.tsx';
import { AcceptInvitationPage } from './public/accept-invitation.tsx';
import { LandingPage } from './public/landing.tsx';
import { PublicLayout } from './public/layout.tsx';
import { ContactPage, PrivacyPage, TermsPage } from './public/legal-pages.tsx';
import { ForgotPasswordPage, ResetPasswordPage } from './public/password-reset.tsx';
import { SecurityPage } from './public/security-page.tsx';
import { SignInPage } from './public/sign-in.tsx';
import { SignUpPage } from './public/sign-up.tsx';
import { VerifyEmailPage } from './public/verify-email.tsx';
import { GeneralSettings } from './settings/general.tsx';
import { IntegrationsSettings } from './settings/integrations.tsx';
import { SecuritySettings } from './settings/security.tsx';
import { SettingsLayout } from './settings/layout.tsx';
import { TeamSettings } from './settings/team.tsx';

function NotFound() {
  return (
    <div className="card auth-card">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link to="/">Go to the home page</Link>.
      </p>
    </div>
  );
}

/** Shown instead of React Router's developer page when a screen throws. */
function RouteError() {
  const error = useRouteError();
  return (
    <div className="card auth-card" role="alert">
      <h1>Something went wrong</h1>
      <p>This screen hit an unexpected error. Reload the page to try again; your data is safe.</p>
      <p className="small muted">{error instanceof Error ? error.message : ''}</p>
      <p>
        <Link to="/app">Back to Capto</Link>
      </p>
    </div>
  );
}

export function createRouter() {
  return createBrowserRouter([
    {
      element: <PublicLayout />,
      errorElement: <RouteError />,
      children: [
        { path: '/', element: <LandingPage /> },
        { path: '/signin', element: <SignInPage /> },
        { path: '/signup', element: <SignUpPage /> },
        { path: '/forgot-password', element: <ForgotPasswordPage /> },
        { path: '/reset-password', element: <ResetPasswordPage /> },
        { path: '/verify-email', element: <VerifyEmailPage /> },
        { path: '/accept-invitation', element: <AcceptInvitationPage /> },
        { path: '/invite/accept', element: <AcceptInvitationPage /> },
        { path: '/security', element: <SecurityPage /> },
        { path: '/privacy', element: <PrivacyPage /> },
        { path: '/terms', element: <TermsPage /> },
        { path: '/contact', element: <ContactPage /> },
        { path: '*', element: <NotFound /> },
      ],
    },
    {
      path: '/app',
      element: (
        <RequireAuth>
          <AppHome />
        </RequireAuth>
      ),
      errorElement: <RouteError />,
    },
    {
      path: '/settings/integrations',
      element: (
        <RequireAuth>
          <SettingsIntegrationsRedirect />
        </RequireAuth>
      ),
    },
    {
      path: '/onboarding',
      element: (
        <RequireAuth>
          <NewBusinessPage first />
        </RequireAuth>
      ),
    },
    {
      path: '/new-business',
      element: (
        <RequireAuth>
          <NewBusinessPage />
        </RequireAuth>
      ),
    },
    {
      path: '/b/:bid',
      element: (
        <RequireAuth>
          <AppShell />
        </RequireAuth>
      ),
      errorElement: <RouteError />,
      children: [
        { index: true, element: <Dashboard /> },
        { path: 'search', element: <SearchPage /> },
        { path: 'contacts', element: <ContactsPage /> },
        { path: 'contacts/trash', element: <ContactTrashPage /> },
        { path: 'contacts/:cid', element: <ContactDetail /> },
        { path: 'lists', element: <ListsPage /> },
        { path: 'lists/:lid', element: <ListDetail /> },
        { path: 'import', element: <ImportWizard /> },
        { path: 'pipeline', element: <PipelinePage /> },
        { path: 'deals/:did', element: <DealDetail /> },
        { path: 'inbox', element: <InboxPage /> },
        { path: 'inbox/:convId', element: <InboxPage /> },
        { path: 'templates', element: <TemplatesPage /> },
        { path: 'campaigns', element: <CampaignsPage /> },
        { path: 'campaigns/:campaignId', element: <CampaignDetail /> },
        { path: 'automations', element: <AutomationsPage /> },
        { path: 'automations/new', element: <NewAutomationPage /> },
        { path: 'automations/:automationId', element: <AutomationDetail /> },
        { path: 'ai-drafts', element: <DraftsPage /> },
        {
          path: 'business-profile',
          element: <BusinessProfileLayout />,
          children: [
            { index: true, element: <PostsPane /> },
            { path: 'reviews', element: <ReviewsPane /> },
          ],
        },
        {
          path: 'settings',
          element: <SettingsLayout />,
          children: [
            { index: true, element: <Navigate to="general" replace /> },
            { path: 'general', element: <GeneralSettings /> },
            { path: 'team', element: <TeamSettings /> },
            { path: 'integrations', element: <IntegrationsSettings /> },
            { path: 'security', element: <SecuritySettings /> },
            { path: 'custom-fields', element: <CustomFieldsSettings /> },
            { path: 'notifications', element: <NotificationSettings /> },
          ],
        },
      ],
    },
  ]);
}
