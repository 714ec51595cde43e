SELECT
  record_type,
  IF(record_type = 'saml', saml.application_name, 'google-workspace') AS app_id,
  LOWER(email) AS email,
  DATE(TIMESTAMP_MICROS(time_usec)) AS day,
  COUNTIF(event_name = 'login_success') AS successes,
  COUNTIF(event_name = 'login_failure') AS failures,
  MIN(time_usec) AS first_usec,
  MAX(IF(event_name = 'login_success', time_usec, NULL)) AS last_ok_usec
FROM `acme-logs.workspace_export.activity`
WHERE _PARTITIONTIME >= TIMESTAMP(@start_day)
  AND time_usec >= @start_usec AND time_usec < @end_usec
  AND record_type IN ('login', 'saml')
  AND event_name IN ('login_success', 'login_failure')
  AND (record_type = 'login' OR saml.application_name IS NOT NULL)
GROUP BY record_type, app_id, email, day
ORDER BY day, record_type, app_id, email
