-- Ground truth: in the template, cancelling accounts are those whose health declines, so across all
-- segments their engagement and their logins per user fall month after month over the 6 months before
-- cancelling, and stay below their retained peers' the whole time. A row here names the month offset
-- where that fails.
with curve as (
    select
        months_before_cancellation,
        cancelled_avg_engagement,
        cancelled_logins_per_user,
        engagement_gap,
        -- the month before in time is one more month before cancellation
        lead(cancelled_avg_engagement) over (order by months_before_cancellation) as earlier_engagement,
        lead(cancelled_logins_per_user) over (order by months_before_cancellation) as earlier_logins_per_user
    from {{ ref('churn_vs_engagement') }}
    where segment = 'all segments'
      and months_before_cancellation >= 1
)

select *
from curve
where not (engagement_gap < 0)
   or cancelled_avg_engagement >= earlier_engagement
   or cancelled_logins_per_user >= earlier_logins_per_user
