using System.Text.Json;

namespace AnomalyMeta.Scoring.Training;

/// <summary>
/// How a cluster's tasks are shaped, stored beside its checkpoint (model.configuration) so scoring builds exactly
/// the tasks the meta-learner was trained on.
/// </summary>
public sealed record ModelConfiguration(
    string Algorithm,
    int PointsPerDay,
    int PrimaryPeriod,
    int SecondaryPeriod,
    int SeasonLength,
    int InnerSteps,
    int Iterations,
    int TrainingSeries,
    string Encoding = "")
{
    /// <summary>The task encoding of <see cref="AnomalyMeta.Core.Forecasting.OneStepTask"/>; models of an older encoding are not used.</summary>
    public const string OneStepEncoding = "one-step-v2";

    public bool IsOneStep => Encoding == OneStepEncoding;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ModelConfiguration FromJson(string json, int modelId) =>
        JsonSerializer.Deserialize<ModelConfiguration>(json, Json)
        ?? throw new InvalidDataException($"Model {modelId}: configuration is empty.");
}
