// GET /api/me: who I am and which businesses I belong to (with my role in each).
import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { api } from '../api/client.ts';

export type Role = 'owner' | 'admin' | 'member';

export interface BusinessSummary {
  id: string;
  name: string;
  role: Role;
  is_demo: boolean;
  nmls_number?: string | null;
  created_at?: string;
  trial?: { ends_at: string; active: boolean; days_left: number } | null;
  demo_expires_at?: string | null;
}

export interface Me {
  user: { id: string; email: string; email_verified?: boolean; created_at?: string };
  businesses: BusinessSummary[];
  flags: {
    needs_onboarding?: boolean;
    email_verified?: boolean;
    is_demo?: boolean;
    demo_expires_at?: string | null;
    google_sign_in?: boolean;
  };
}

export function useMe() {
  return useQuery({
    queryKey: ['me'],
    queryFn: async () => {
      const me = await api<Me>('/api/me');
      return { ...me, flags: me.flags ?? {} };
    },
    staleTime: 30_000,
  });
}

/** The business in the URL, with my role in it (undefined while loading). */
export function useBusiness(): {
  bid: string;
  business: BusinessSummary | undefined;
  role: Role | undefined;
  canManage: boolean;
} {
  const { bid = '' } = useParams();
  const me = useMe();
  const business = me.data?.businesses.find((b) => b.id === bid);
  const role = business?.role;
  return { bid, business, role, canManage: role === 'owner' || role === 'admin' };
}
