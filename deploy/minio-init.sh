#!/bin/sh
# One-shot MinIO bootstrap for Custody (docker-compose.yml, service minio-init). Idempotent.
#  1. bucket with Object Lock (which also turns on versioning), created that way because MinIO cannot
#     add Object Lock to an existing bucket;
#  2. refuse to continue if the bucket exists WITHOUT Object Lock, or with a default retention
#     (Custody sets COMPLIANCE retain-until per object; leave the bucket default unset);
#  3. a least-privilege user for the custody servers: object read/write, retention and legal hold,
#     but no bucket configuration, no policy changes, no governance bypass.
set -eu
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${S3_BUCKET:?}"
: "${CUSTODY_S3_ACCESS_KEY:?}" "${CUSTODY_S3_SECRET_KEY:?}"

A=custody
mc alias set "$A" http://minio1:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

mc mb --ignore-existing --with-lock "$A/$S3_BUCKET"

if ! lock=$(mc retention info --default --json "$A/$S3_BUCKET"); then
    echo "FATAL: bucket $S3_BUCKET has no Object Lock configuration. It cannot be added later;" >&2
    echo "       create a new bucket (this script does it with --with-lock) and point S3_BUCKET at it." >&2
    exit 1
fi
case "$lock" in
    *'"enabled": "Enabled"'* | *'"enabled":"Enabled"'*) ;;
    *) echo "FATAL: Object Lock is not enabled on $S3_BUCKET: $lock" >&2; exit 1 ;;
esac
case "$lock" in
    *'"mode": ""'* | *'"mode":""'*) ;;
    *) echo "FATAL: $S3_BUCKET has a default retention ($lock); Custody expects none." >&2
       echo "       Review it, then: mc retention clear --default $A/$S3_BUCKET" >&2
       exit 1 ;;
esac
echo "bucket $S3_BUCKET: Object Lock enabled, no default retention"

policy=/tmp/custody-app-policy.json
cat >"$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "s3:GetBucketLocation",
        "s3:GetBucketVersioning",
        "s3:GetBucketObjectLockConfiguration",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads"
      ],
      "Resource": ["arn:aws:s3:::$S3_BUCKET"]
    },
    {
      "Effect": "Allow",
      "Action": [
        "s3:PutObject",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutObjectRetention",
        "s3:GetObjectRetention",
        "s3:PutObjectLegalHold",
        "s3:GetObjectLegalHold",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts"
      ],
      "Resource": ["arn:aws:s3:::$S3_BUCKET/*"]
    }
  ]
}
JSON
# Delete permissions are for orphan sweeping and expired retention; Object Lock (COMPLIANCE
# retention, legal hold) is what makes evidence undeletable, for this user and for root alike.

mc admin policy create "$A" custody-app "$policy"
# Keys on stdin, not argv. Re-running resets the secret to the one in .env.
printf '%s\n%s\n' "$CUSTODY_S3_ACCESS_KEY" "$CUSTODY_S3_SECRET_KEY" | mc admin user add "$A" >/dev/null
info=$(mc admin user info "$A" "$CUSTODY_S3_ACCESS_KEY" --json)
case "$info" in
    *'"policyName": "'*custody-app*) ;;
    *) mc admin policy attach "$A" custody-app --user "$CUSTODY_S3_ACCESS_KEY" ;;
esac
echo "user $CUSTODY_S3_ACCESS_KEY: policy custody-app"
