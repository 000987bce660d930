-- An in-memory database's work: bulk insert, an index, aggregates, an update and deletes.
-- sqlite3 takes its page cache and its statements' memory from malloc.
--   sqlite3 -init sqlite_work.sql :memory: .quit
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL, d INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t SELECT i, printf('%08x-%s', i * 2654435761 % 4294967296, substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 26)), i * 0.5, i % 1000 FROM n;
CREATE INDEX t_b ON t(b);
CREATE INDEX t_d ON t(d);
SELECT count(*), sum(length(b)) FROM t WHERE b > '8';
SELECT d, count(*), max(c) FROM t GROUP BY d ORDER BY 2 DESC, 1 LIMIT 3;
UPDATE t SET b = b || '-x' WHERE d < 300;
DELETE FROM t WHERE a % 3 = 0;
SELECT count(*), sum(length(b)) FROM t;
SELECT group_concat(b, ',') IS NOT NULL FROM (SELECT b FROM t ORDER BY b LIMIT 5000);
