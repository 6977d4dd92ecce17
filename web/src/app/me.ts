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
  trial_ends_at?: string | null;
  [key: string]: unknown;
}

export interface Me {
  user: { id: string; email: string; name?: string | null; email_verified?: boolean; [key: string]: unknown };
  businesses: BusinessSummary[];
}

type RawBusiness = Partial<BusinessSummary> & { business_id?: string; business?: Partial<BusinessSummary>; business_name?: string };

/** Accepts the membership list under `businesses` or `memberships`, flat or nested. */
export function normalizeMe(raw: unknown): Me {
  const r = (raw ?? {}) as { user?: Me['user']; businesses?: RawBusiness[]; memberships?: RawBusiness[] } & Me['user'];
  const list = r.businesses ?? r.memberships ?? [];
  return {
    user: r.user ?? { id: r.id, email: r.email },
    businesses: list.map((b) => ({
      ...b,
      id: String(b.id ?? b.business_id ?? b.business?.id ?? ''),
      name: String(b.name ?? b.business_name ?? b.business?.name ?? 'Untitled business'),
      role: (b.role ?? 'member') as Role,
      is_demo: Boolean(b.is_demo ?? b.business?.is_demo),
      trial_ends_at: (b.trial_ends_at ?? b.business?.trial_ends_at ?? null) as string | null,
    })),
  };
}

export function useMe() {
  return useQuery({ queryKey: ['me'], queryFn: async () => normalizeMe(await api('/api/me')), staleTime: 30_000 });
}

/** The business in the URL, with my role in it (undefined while loading). */
export function useBusiness(): { bid: string; business: BusinessSummary | undefined; role: Role | undefined; canManage: boolean } {
  const { bid = '' } = useParams();
  const me = useMe();
  const business = me.data?.businesses.find((b) => b.id === bid);
  const role = business?.role;
  return { bid, business, role, canManage: role === 'owner' || role === 'admin' };
}
