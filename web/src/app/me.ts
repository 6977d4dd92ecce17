// GET /api/me: who I am and which businesses I belong to (with my role in each), through
// the typed client: these types are the server's (web/src/api/schema.d.ts).
import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { call, typedApi, type ApiResponse } from '../api/typed.ts';

export type Me = ApiResponse<'/api/me', 'get'>;
export type BusinessSummary = Me['businesses'][number];
export type Role = BusinessSummary['role'];

export function useMe() {
  return useQuery({
    queryKey: ['me'],
    queryFn: async () => {
      const me = await call(typedApi.GET('/api/me'));
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
