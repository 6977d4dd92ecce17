import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from 'react-router';
import { ApiError } from './api/client.ts';
import { onSignedOut, restoreSession } from './auth/session.ts';
import { LAST_BUSINESS_KEY } from './app/app-home.tsx';
import { createRouter } from './routes.tsx';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // 4xx answers are final (forbidden, not found, validation); only retry the flaky kind.
      retry: (count, error) => count < 2 && !(error instanceof ApiError && error.status < 500),
      refetchOnWindowFocus: true,
      staleTime: 10_000,
    },
  },
});

const router = createRouter();

// Sign-out here or in another tab: drop every cached row so nothing of the previous
// user is left in memory, and leave the signed-in area.
onSignedOut(() => {
  queryClient.clear();
  localStorage.removeItem(LAST_BUSINESS_KEY);
  const path = window.location.pathname;
  if (path === '/app' || path.startsWith('/b/') || path === '/onboarding' || path === '/new-business') {
    void router.navigate('/signin', { replace: true });
  }
});

void restoreSession();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
