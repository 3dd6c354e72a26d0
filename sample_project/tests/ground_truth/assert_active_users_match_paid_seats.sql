-- Ground truth: the saas template gives each account as many named users as it pays seats
-- (`children: user: per_parent: follows: seats`). Counted from the user table's created/removed months,
-- active users must equal the reported paid seats in every month: an interval bound taken the wrong way
-- (removed_month inclusive) or users of cancelled accounts counted on shows here.
select
    account_id,
    month_start,
    active_users,
    paid_seats
from {{ ref('int_account_months') }}
where paid_seats is not null
  and active_users <> paid_seats
