// Readiness checks that double as version reports: the test output must say what each backend really ran on.
import { Redis } from 'ioredis';
import pg from 'pg';
import { MongoClient } from 'mongodb';
import mysql from 'mysql2/promise';

/** Returns e.g. "redis 7.0.15" once the server answers commands. */
export async function probeRedis(url: string): Promise<string> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = await client.info('server');
    const field = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    return `${field('server_name') ?? 'redis'} ${field('redis_version') ?? '?'}`;
  } finally {
    client.disconnect();
  }
}

/** Returns e.g. "PostgreSQL 15.14" once the server accepts queries (not merely connections). */
export async function probePostgres(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return `PostgreSQL ${rows[0]!.server_version.split(' ')[0]}`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Returns "MongoDB 8.0.4" or, for FerretDB behind a URL, "FerretDB 1.24.2 (MongoDB 7.0.42 API)". */
export async function probeMongo(url: string): Promise<string> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 3000, connectTimeoutMS: 3000 });
  try {
    await client.connect();
    const info = await client.db('admin').command({ buildInfo: 1 });
    if (info.ferretdbVersion) return `FerretDB ${String(info.ferretdbVersion).replace(/^v/, '')} (MongoDB ${info.version} API)`;
    return `MongoDB ${info.version}`;
  } finally {
    await client.close().catch(() => {});
  }
}

/**
 * Returns e.g. "DynamoDB API (2 tables)" once the endpoint answers ListTables; any credentials and region do for
 * a local implementation.
 */
export async function probeDynamoDB(url: string): Promise<string> {
  const { DynamoDBClient, ListTablesCommand } = await import('@aws-sdk/client-dynamodb');
  const client = new DynamoDBClient(dynamoClientConfig(url, 1));
  try {
    const out = await client.send(new ListTablesCommand({ Limit: 100 }), { abortSignal: AbortSignal.timeout(3000) });
    return `DynamoDB API (${out.TableNames?.length ?? 0} tables)`;
  } finally {
    client.destroy();
  }
}

/** Client configuration for a local DynamoDB endpoint: fixed dummy credentials and region. */
export function dynamoClientConfig(url: string, maxAttempts = 3) {
  return {
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts,
  };
}

/** Returns e.g. "MariaDB 10.11.14" or "MySQL 8.4.3" once the server accepts queries. */
export async function probeMysql(url: string): Promise<string> {
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
  conn.on('error', () => {});
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    const version = String(rows[0]!['v']);
    const mariadb = /mariadb/i.exec(version);
    return `${mariadb ? 'MariaDB' : 'MySQL'} ${version.split('-')[0]}`;
  } finally {
    conn.destroy();
  }
}
