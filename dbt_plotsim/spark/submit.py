"""`generate --engine spark` as a spark-submit application (spark-submit runs a file, not a module):

    spark-submit --master spark://host:7077 \\
      "$(python -c 'import dbt_plotsim.spark.submit as s; print(s.__file__)')" SPEC --out DIR [generate options]

The master and every other setting come from spark-submit (or spark-defaults.conf); the arguments are those of
`dbt-plotsim generate` without --engine.
"""
import sys

from dbt_plotsim.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate", *sys.argv[1:], "--engine", "spark"]))
