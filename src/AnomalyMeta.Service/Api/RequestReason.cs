namespace AnomalyMeta.Service.Api;

/// <summary>The reason an operator gives with a pin, a rollback or a job run: required, one line, at most <see cref="RunsApi.MaxReasonLength"/> characters.</summary>
internal static class RequestReason
{
    /// <summary>Why <paramref name="reason"/> is refused, or null; <paramref name="keptWith"/> says where it is kept ("the pin").</summary>
    public static string? Problem(string? reason, string keptWith) =>
        string.IsNullOrWhiteSpace(reason) ? $"A 'reason' is required: it is kept with {keptWith}."
        : reason.Length > RunsApi.MaxReasonLength ? $"'reason' has {reason.Length} characters; at most {RunsApi.MaxReasonLength}."
        : reason.Any(char.IsControl) ? "'reason' holds control characters."
        : null;
}
