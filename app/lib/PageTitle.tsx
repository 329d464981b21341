/**
 * The browser tab's title for a page: `<what> · Livetrain` (tabs and history tell runs apart).
 * A React 19 `<title>`, hoisted into the document head and replaced on navigation by the next
 * page's, so nothing else writes the title: a metadata title from Next, re-rendered after a
 * client-side navigation, used to put "Livetrain" back over the run's name (and there is none).
 */
export function PageTitle({ what }: { what: string | null }) {
  return <title>{what ? `${what} · Livetrain` : 'Livetrain'}</title>;
}
