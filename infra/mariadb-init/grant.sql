-- Run once by the mariadb and mysql images of docker-compose.yml, as root, after they created
-- the `schemashift` user: let it do what the user of `infra up` may (create and drop databases
-- and users), not only use its own database.
GRANT ALL PRIVILEGES ON *.* TO 'schemashift'@'%' WITH GRANT OPTION;
