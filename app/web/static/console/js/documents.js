// Every GraphQL document the console sends: fixed texts with variables, so the server's parse,
// validation and plan caches hit, and their hashes stay the same between releases that do not
// change them (they go as automatic persisted queries, see api.js).

const USER_ERRORS = "userErrors { field message code }";

export const VIEWER = `query ConsoleViewer {
  viewer { kind role pointsAdjustmentLimit }
  programs { id slug name currency timeZone defaultLocale }
}`;

export const INSIGHTS = `query ConsoleInsights($slug: String!, $from: Date!, $to: Date!,
    $granularity: InsightsGranularity!, $channel: OrderChannel, $segment: String) {
  programInsights(programSlug: $slug, from: $from, to: $to, granularity: $granularity,
      channel: $channel, segment: $segment) {
    currency timeZone granularity channel
    series { ...ConsolePeriod }
    totals { ...ConsolePeriod }
  }
}
fragment ConsolePeriod on InsightsPeriod {
  start end enrolments
  orders {
    memberOrders guestOrders memberRevenueMinor guestRevenueMinor
    memberAverageOrderValueMinor guestAverageOrderValueMinor averageOrderValueLiftMinor
    memberOrderShare
  }
  points {
    earned reversed spent expired adjusted redemptionRate outstandingAtEnd pendingAtEnd
    breakageRate
  }
}`;

export const SEGMENT_KEYS = `query ConsoleSegments($slug: String!) {
  segments(programSlug: $slug, first: 100) { edges { node { id key name memberCount } } }
}`;

export const MEMBERS = `query ConsoleMembers($slug: String!, $filter: MemberListFilter,
    $orderBy: MemberListOrder!, $after: String) {
  members(programSlug: $slug, filter: $filter, orderBy: $orderBy, first: 25, after: $after) {
    edges { node {
      id customerId name email enrolledAt optedOut
      points { available pending }
      tierStatus { tier { name } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const MEMBER_FIELDS = `
  id customerId name email enrolledAt optedOut
  points { available pending lifetimeEarned lifetimeRedeemed debt }
  nextExpiries(first: 10) { points expiresAt expiresOn }
  tierStatus {
    tier { name } since metric period currency value nextTier { name threshold }
    neededForNext neededToKeep neededToKeepBy
    assignment { tierName lockedUntil reason }
    history { fromTier toTier reason at note }
  }
  segments { segment { key name } enteredAt }
  badges { badge { name } awardedAt }
  referralCode
  referrals(first: 20) { edges { node { id state friendCustomerId createdAt } } }
  referredBy { id state referrer { customerId name } }
  storeCredit { balanceMinor currency }
`;

export const MEMBER = `query ConsoleMember($id: ID!, $after: String) {
  member(id: $id) {
    ${MEMBER_FIELDS}
    activity(first: 20, after: $after) {
      edges { node { id kind points description orderId createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
  memberRedemptions(memberId: $id, first: 50) {
    edges { node { id code pointsSpent status createdAt expiresAt usedAt cancelledAt
      reward { name } } }
  }
}`;

export const ORDER = `query ConsoleOrder($slug: String!, $orderId: String!) {
  order(programSlug: $slug, orderId: $orderId) {
    id orderId currency totalMinor pointsEarned pointsRefunded status placedAt
    earning {
      points baseMinor noPointsReason unearnedPaymentMinor
      orderComponents { source baseMinor multiplier points }
      lines { index sku category quantity baseMinor points
        components { source baseMinor multiplier points } }
    }
  }
}`;

export const BACKTEST_RULES = `query ConsoleBacktestRules($slug: String!) {
  earningRules(programSlug: $slug) { id name kind multiplier points paused }
}`;

export const TIERS = `query ConsoleTiers($slug: String!) {
  tierProgram(programSlug: $slug) {
    metric period downgrade graceDays recalculationPending
    tiers { id name rank threshold earnMultiplier rewardDiscountPercent perks }
  }
}`;

export const ADJUST_POINTS = `mutation ConsoleAdjustPoints($input: AdjustPointsInput!) {
  adjustPoints(input: $input) { member { id points { available pending } } ${USER_ERRORS} }
}`;

export const CANCEL_REDEMPTION = `mutation ConsoleCancelRedemption($input: CancelRedemptionInput!) {
  cancelRedemption(input: $input) { redemption { id status } ${USER_ERRORS} }
}`;

export const ASSIGN_TIER = `mutation ConsoleAssignTier($input: AssignMemberTierInput!) {
  assignMemberTier(input: $input) { ${USER_ERRORS} }
}`;

export const ERASE_MEMBER = `mutation ConsoleEraseMember($input: EraseMemberInput!) {
  eraseMember(input: $input) { ${USER_ERRORS} }
}`;

export const PROGRAM_CONFIG = `query ConsoleProgram($slug: String!, $locale: String) {
  program(slug: $slug) {
    id slug name(locale: $locale) currency timeZone pointsPerCurrencyUnit pendingDays active
    defaultLocale refundShortfallPolicy earnOnPointsPayments retroCreditDays costPerPointMinor
    insightsForSecretKeys
    expiry { policy lifetime lifetimeUnit roundTo inactivityMonths warningDays }
  }
  earningRules(programSlug: $slug) {
    id name(locale: $locale) kind multiplier points priority exclusive minimumOrderMinor
    includeCategories includeSkus excludeCategories excludeSkus startsAt endsAt eligibleTiers
    eligibleSegments paused
  }
  actionRules(programSlug: $slug) {
    id name(locale: $locale) action qualifier points frequency frequencyLimit capPoints
    selfService paused
  }
  rewardCatalogue(programSlug: $slug, includeInactive: true, first: 100) {
    edges { node { id name(locale: $locale) description(locale: $locale) kind costPoints
      valueMinor percentOff maxValueMinor minimumOrderMinor stock perMemberLimit limitPeriod
      skus categories startsAt endsAt codeValidDays active retiredAt } }
  }
  tierProgram(programSlug: $slug) {
    metric period downgrade graceDays
    tiers { id name(locale: $locale) rank threshold earnMultiplier rewardDiscountPercent
      entryPoints perks(locale: $locale) entryReward { id name } }
  }
  punchCards(programSlug: $slug, includeRetired: true) {
    id name description punchesNeeded skus categories minimumQuantity minimumPer active paused
    retiredAt reward { id name }
  }
  referralSettings(programSlug: $slug) {
    enabled urlTemplate referrerLimit referrerLimitPeriod ipWeeklyThreshold attachWindowDays
    referrer { ...ConsoleReferralSide } friend { ...ConsoleReferralSide }
  }
  webhookEndpoints(programSlug: $slug) {
    id url description eventTypes enabled disabledReason failingSince
  }
}
fragment ConsoleReferralSide on ReferralSideRule {
  points trigger minimumOrderMinor maxOrders reward { id name }
}`;

export const WEBHOOK_DELIVERIES = `query ConsoleDeliveries($id: ID!) {
  webhookDeliveries(endpointId: $id, first: 20) {
    edges { node { id eventType status attempts lastStatusCode lastError lastAttemptAt
      createdAt } }
  }
}`;

export const CREATE_REWARD = `mutation ConsoleCreateReward($input: CreateRewardInput!) {
  createReward(input: $input) { reward { id name } ${USER_ERRORS} }
}`;

export const UPDATE_REWARD = `mutation ConsoleUpdateReward($input: UpdateRewardInput!) {
  updateReward(input: $input) { reward { id name active costPoints } ${USER_ERRORS} }
}`;

export const CREATE_EARNING_RULE = `mutation ConsoleCreateRule($input: CreateEarningRuleInput!) {
  createEarningRule(input: $input) { rule { id name } ${USER_ERRORS} }
}`;

export const PAUSE_EARNING_RULE = `mutation ConsolePauseRule($input: SetEarningRulePausedInput!) {
  setEarningRulePaused(input: $input) { rule { id paused } ${USER_ERRORS} }
}`;

export const PAUSE_ACTION_RULE = `mutation ConsolePauseAction($input: SetActionRulePausedInput!) {
  setActionRulePaused(input: $input) { rule { id paused } ${USER_ERRORS} }
}`;

export const CREATE_WEBHOOK = `mutation ConsoleCreateWebhook($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id } secret ${USER_ERRORS} }
}`;

export const UPDATE_WEBHOOK = `mutation ConsoleUpdateWebhook($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) { endpoint { id enabled } ${USER_ERRORS} }
}`;

export const REDELIVER_WEBHOOK = `mutation ConsoleRedeliver($input: WebhookDeliveryIdInput!) {
  redeliverWebhook(input: $input) { ${USER_ERRORS} }
}`;

export const UPDATE_PROGRAM_SETTINGS = `mutation ConsoleProgramSettings(
    $input: UpdateProgramSettingsInput!) {
  updateProgramSettings(input: $input) { ${USER_ERRORS} }
}`;

export const UPDATE_EARNING_RULE = `mutation ConsoleUpdateRule($input: UpdateEarningRuleInput!) {
  updateEarningRule(input: $input) { rule { id name } ${USER_ERRORS} }
}`;

export const CREATE_ACTION_RULE = `mutation ConsoleCreateAction($input: CreateActionRuleInput!) {
  createActionRule(input: $input) { rule { id name } ${USER_ERRORS} }
}`;

export const UPDATE_ACTION_RULE = `mutation ConsoleUpdateAction($input: UpdateActionRuleInput!) {
  updateActionRule(input: $input) { rule { id name } ${USER_ERRORS} }
}`;

export const CONFIGURE_TIERS = `mutation ConsoleConfigureTiers($input: ConfigureTiersInput!) {
  configureTiers(input: $input) { ${USER_ERRORS} }
}`;

export const CREATE_PUNCH_CARD = `mutation ConsoleCreatePunchCard($input: CreatePunchCardInput!) {
  createPunchCard(input: $input) { ${USER_ERRORS} }
}`;

export const UPDATE_PUNCH_CARD = `mutation ConsoleUpdatePunchCard($input: UpdatePunchCardInput!) {
  updatePunchCard(input: $input) { ${USER_ERRORS} }
}`;

export const RETIRE_PUNCH_CARD = `mutation ConsoleRetirePunchCard($input: RetirePunchCardInput!) {
  retirePunchCard(input: $input) { ${USER_ERRORS} }
}`;

export const PAUSE_PUNCH_CARD = `mutation ConsolePausePunchCard($input: SetPunchCardPausedInput!) {
  setPunchCardPaused(input: $input) { ${USER_ERRORS} }
}`;

export const UPDATE_REFERRAL_SETTINGS = `mutation ConsoleReferralSettings(
    $input: UpdateReferralSettingsInput!) {
  updateReferralSettings(input: $input) { ${USER_ERRORS} }
}`;

export const TRANSLATIONS = `query ConsoleTranslations($kind: TranslatableKind!, $id: ID!) {
  translations(kind: $kind, id: $id) { field locale text }
}`;

export const SET_TRANSLATIONS = `mutation ConsoleSetTranslations($input: SetTranslationsInput!) {
  setTranslations(input: $input) { translations { field locale text } ${USER_ERRORS} }
}`;

export const AUDIT_LOG = `query ConsoleAudit($after: String, $targetId: String,
    $operation: String, $apiKeyId: Int) {
  auditLog(first: 50, after: $after, targetId: $targetId, operation: $operation,
      apiKeyId: $apiKeyId) {
    edges { node { id apiKeyId operation targetType targetId input succeeded requestId
      createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const EVENTS = `query ConsoleEvents($slug: String!, $type: String, $after: String) {
  events(programSlug: $slug, first: 50, after: $after, type: $type) {
    edges { node { id type memberId payload createdAt } }
    pageInfo { hasNextPage endCursor }
  }
  webhookEventTypes { type }
}`;

const BACKTEST_JOB_FIELDS = `id status progress ordersTotal ordersDone failure
  result {
    from to orders members recordedPointsIssued redemptionRate
    current { ...ConsoleBacktestFigures }
    proposed { ...ConsoleBacktestFigures }
  }`;
const BACKTEST_FIGURES = `fragment ConsoleBacktestFigures on BacktestFigures {
  pointsIssued expectedRedemptions pointsExpired liabilityPoints liabilityMinor
  pointsPerOrder membersPerTier { name members }
}`;

export const START_BACKTEST = `mutation ConsoleStartBacktest($input: BacktestProgramInput!) {
  startBacktest(input: $input) { backtestJob { ${BACKTEST_JOB_FIELDS} } ${USER_ERRORS} }
}
${BACKTEST_FIGURES}`;

export const BACKTEST_JOB = `query ConsoleBacktestJob($id: ID!) {
  backtestJob(id: $id) { ${BACKTEST_JOB_FIELDS} }
}
${BACKTEST_FIGURES}`;
export const MEMBER_DELIVERIES = `query ConsoleMemberDeliveries($id: ID!, $slug: String!, $after: String) {
  memberWebhookDeliveries(memberId: $id, first: 20, after: $after) {
    edges { node { id endpointId eventType status attempts lastStatusCode lastError
      lastAttemptAt nextAttemptAt createdAt } }
    pageInfo { hasNextPage endCursor }
  }
  webhookEndpoints(programSlug: $slug) { id url description }
}`;

export const COHORTS = `query ConsoleCohorts($slug: String!, $from: Date!, $to: Date!, $months: Int!) {
  programCohorts(programSlug: $slug, from: $from, to: $to, months: $months) {
    cohorts { month members months { offset month activeMembers retention } }
  }
}`;
