"""pipec-airflow: the Airflow 3 target of pipec."""
