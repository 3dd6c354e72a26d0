-- The MRR bridge adds up: month over month, net new MRR = change from retained accounts - churned MRR.
select month_start, segment, net_new_mrr_usd, retained_mrr_change_usd, churned_mrr_usd
from {{ ref('mrr_by_month_segment') }}
where net_new_mrr_usd is not null
  and abs(net_new_mrr_usd - (retained_mrr_change_usd - churned_mrr_usd)) > 0.01
