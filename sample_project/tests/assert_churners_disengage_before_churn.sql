-- The point of churn_vs_engagement: in each of the 3 months before churning, accounts that churn are
-- less engaged than their retained peers. A row here means the churn rule stopped matching the behaviour.
select *
from {{ ref('churn_vs_engagement') }}
where segment = 'all segments'
  and not (engagement_gap < 0)
