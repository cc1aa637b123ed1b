-- The operational store's database next to Dagster's (docker-compose.yml creates "dagster").
CREATE DATABASE amili;
