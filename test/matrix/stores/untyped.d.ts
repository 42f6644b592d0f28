// Third-party stores that ship no type declarations (and have no @types package installed here). Each takes
// express-session and returns a Store class; the factories only use what the stores' READMEs document.
type StoreClass = new (options?: Record<string, unknown>) => import('express-session').Store;

declare module 'connect-pg-simple' {
  const connect: (session: unknown) => StoreClass;
  export default connect;
}
declare module 'better-sqlite3-session-store' {
  const connect: (session: unknown) => StoreClass;
  export default connect;
}
declare module 'session-file-store' {
  const connect: (session: unknown) => StoreClass;
  export default connect;
}
declare module 'connect-sqlite3' {
  const connect: (session: unknown) => StoreClass;
  export default connect;
}
declare module 'express-mysql-session' {
  const connect: (session: unknown) => StoreClass;
  export default connect;
}
