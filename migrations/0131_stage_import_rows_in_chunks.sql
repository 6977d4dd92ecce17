-- The staged file (0006) held one row per CSV data row: a 20,000-row upload wrote 20,000
-- tuples, each with its primary-key entry, foreign-key check and policy check, read them
-- back when the job started and deleted them when it ended — about a fifth of an import's
-- database time. A staged row may now hold a run of consecutive data rows: `row_number`
-- is the first of them, `cells` an array of their cell arrays and `lines` their physical
-- lines (docs/ARCHITECTURE.md §14). A row with `lines` NULL is one data row as before, so a
-- job uploaded before this migration still runs. Policies and grants are unchanged.
ALTER TABLE app.import_rows ADD COLUMN lines integer[];
ALTER TABLE app.import_rows ADD CONSTRAINT import_rows_lines_check CHECK (
  lines IS NULL
  OR (cardinality(lines) BETWEEN 1 AND 100000 AND array_ndims(lines) = 1
      AND cardinality(lines) = jsonb_array_length(cells) AND row_number + cardinality(lines) - 1 <= 100000)
);
