"""An archive index of many captures: Parquet tables built in parallel, queried with SQL."""
