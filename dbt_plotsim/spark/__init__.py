"""The Spark engine (`dbt-plotsim generate --engine spark`): the local engine's units spread over Spark tasks."""
