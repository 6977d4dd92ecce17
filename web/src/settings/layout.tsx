import { NavLink, Outlet } from 'react-router';
import { useBusiness } from '../app/me.ts';

export function SettingsLayout() {
  const { bid } = useBusiness();
  const base = `/b/${bid}/settings`;
  return (
    <>
      <h1>Settings</h1>
      <nav className="tabs" aria-label="Settings">
        <NavLink to={`${base}/general`}>General</NavLink>
        <NavLink to={`${base}/team`}>Team</NavLink>
        <NavLink to={`${base}/integrations`}>Integrations</NavLink>
        <NavLink to={`${base}/security`}>Security</NavLink>
        <NavLink to={`${base}/custom-fields`}>Custom fields</NavLink>
        <NavLink to={`${base}/notifications`}>Notifications</NavLink>
      </nav>
      <Outlet />
    </>
  );
}
