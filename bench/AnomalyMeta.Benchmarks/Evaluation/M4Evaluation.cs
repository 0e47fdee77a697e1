using AnomalyMeta.Scoring;
using System.Diagnostics;
using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Learning;
using AnomalyMeta.Benchmarks;
using AnomalyMeta.Scoring.Training;

namespace AnomalyMeta.Benchmarks.Evaluation;

/// <summary>sMAPE, MASE and OWA of one method on one M4 data set (means over its series, as the competition reports).</summary>
public sealed record M4Score(string Method, string Dataset, double Smape, double Mase, double Owa, int Series);

/// <summary>What <see cref="M4Evaluation"/> measured.</summary>
public sealed record M4EvaluationResult(IReadOnlyList<M4Score> Scores, int KPeriods, int Iterations, double TrainSeconds, double ForecastSeconds);

/// <summary>
/// The scoring model as a forecaster on M4 Hourly: one meta-learner trained on the training parts with the morning job's
/// task (<see cref="OneStepTask"/>: primary period 24, support = the last <c>kPeriods</c> periods), then, per series,
/// adapted on its last <c>kPeriods</c> × 24 points and run forward over the 48-hour test horizon, each forecast fed back
/// as the next point's past. Scored as the M4 competition scores (Makridakis et al. 2020): sMAPE, MASE with the
/// seasonal difference m = 24, and OWA against Naive2 (naive on the series deseasonalised by classical multiplicative
/// decomposition when the lag-m autocorrelation passes the 90 % test), beside seasonal naive and Naive2 themselves.
/// </summary>
public static class M4Evaluation
{
    private const int Period = 24;
    private const int Horizon = 48;
    private const int Week = 7 * Period;

    public static M4EvaluationResult Run(string m4Directory, int kPeriods, int iterations, int seed, Action<string>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kPeriods, 1);
        var train = M4File.Read(Path.Combine(m4Directory, "Hourly-train.csv"));
        var test = M4File.Read(Path.Combine(m4Directory, "Hourly-test.csv")).ToDictionary(s => s.Id, StringComparer.Ordinal);
        int season = kPeriods * Period;
        int lead = OneStepTask.Lead(Period, Week);
        foreach (var s in train)
        {
            if (!test.TryGetValue(s.Id, out var horizon) || horizon.Values.Length != Horizon)
            {
                throw new InvalidDataException($"Hourly-test.csv: series '{s.Id}' has no row of {Horizon} values.");
            }
        }

        var clock = Stopwatch.StartNew();
        MetaLearner.UseTorchThreads(1);
        var histories = train.Select((s, i) => new TrainingHistory(i, 0, s.Values)).ToList();
        var sampler = new OneStepTaskSampler(histories, Period, season, Period, Week, Period);
        using var learner = MetaLearner.Create(new MetaLearnerOptions
        {
            InputSize = OneStepTask.InputSize,
            Algorithm = MetaAlgorithm.MetaSgd,
            InnerSteps = 1,
            InnerLearningRate = 0.01f,
            Seed = seed,
        });
        learner.Train(sampler, iterations, OneStepTaskSampler.SupportSize(season), Period);
        var adapter = new FastAdapter(learner.ExportParameters());
        double trainSeconds = clock.Elapsed.TotalSeconds;
        progress?.Invoke($"meta-trained on {sampler.SeriesCount} series in {trainSeconds:F1} s");

        clock.Restart();
        var model = Forecast(train, adapter, season, lead);
        double forecastSeconds = clock.Elapsed.TotalSeconds;

        var methods = new (string Name, Func<int, float[]> Forecast)[]
        {
            ("anomalymeta", i => model[i]),
            ("seasonal_naive", i => M4Metrics.SeasonalNaive(train[i].Values, Period, Horizon)),
            ("seasonal_mean_3", i => SeasonalMean(train[i].Values, OneStepTask.SeasonalCycles)),
            ("naive2", i => Naive2(train[i].Values)),
        };
        var naive2 = Score("naive2", train, test, i => Naive2(train[i].Values), null);
        var scores = methods.Select(m => Score(m.Name, train, test, m.Forecast, naive2)).ToList();
        return new M4EvaluationResult(scores, kPeriods, iterations, trainSeconds, forecastSeconds);
    }

    /// <summary>
    /// Every series' 48-hour forecast, all series in one batch per horizon step: each step adapts the series' copy of the
    /// meta-parameters on the same support (the last season) and forecasts one point from the values before it, the
    /// forecasts so far included.
    /// </summary>
    private static float[][] Forecast(IReadOnlyList<M4Series> series, FastAdapter adapter, int season, int lead)
    {
        int count = series.Count;
        int inputs = OneStepTask.InputSize;
        int span = lead + season + Horizon;
        var windows = new float[count][];
        var scales = new TaskScale[count];
        var supportX = new float[count * season * inputs];
        var supportY = new float[count * season];
        var firstIndex = new long[count];
        for (int i = 0; i < count; i++)
        {
            var values = series[i].Values;
            var window = new float[span];
            int available = Math.Min(values.Length, lead + season);
            // A series shorter than the lead and the season is padded at its start with its first value.
            int offset = lead + season - available;
            Array.Fill(window, values[values.Length - available], 0, offset);
            values.AsSpan(values.Length - available).CopyTo(window.AsSpan(offset));
            windows[i] = window;
            // Phases count from the series' first value, as in training; a whole number of seasons keeps them.
            firstIndex[i] = values.Length - lead - season;
            while (firstIndex[i] < 0)
            {
                firstIndex[i] += season;
            }
            scales[i] = TaskScale.Of(window.AsSpan(lead, season));
            OneStepTask.Encode(window, lead, season, firstIndex[i], Period, season, Period, Week, scales[i],
                supportX.AsSpan(i * season * inputs, season * inputs), supportY.AsSpan(i * season, season), offset);
        }

        var queryX = new float[count * inputs];
        var output = new float[count];
        var target = new float[1];
        for (int h = 0; h < Horizon; h++)
        {
            int t = lead + season + h;
            for (int i = 0; i < count; i++)
            {
                OneStepTask.Encode(windows[i], t, 1, firstIndex[i], Period, season, Period, Week, scales[i], queryX.AsSpan(i * inputs, inputs), target);
            }
            adapter.AdaptAndPredict(count, season, supportX, supportY, 1, queryX, 1, output);
            for (int i = 0; i < count; i++)
            {
                windows[i][t] = OneStepTask.Forecast(windows[i][t - 1], output[i], scales[i]);
            }
        }
        return windows.Select(w => w[^Horizon..]).ToArray();
    }

    private static M4Score Score(string method, IReadOnlyList<M4Series> train, Dictionary<string, M4Series> test,
        Func<int, float[]> forecast, M4Score? naive2)
    {
        double smape = 0;
        double mase = 0;
        for (int i = 0; i < train.Count; i++)
        {
            var actual = test[train[i].Id].Values;
            var predicted = forecast(i);
            smape += Smape(actual, predicted);
            mase += M4Metrics.Mase(train[i].Values, actual, predicted, Period);
        }
        smape /= train.Count;
        mase /= train.Count;
        // OWA: the mean of the two errors relative to Naive2's, on the data set's averages (M4 competition guide).
        double owa = naive2 is null ? 1 : 0.5 * ((smape / naive2.Smape) + (mase / naive2.Mase));
        return new M4Score(method, "Hourly", smape, mase, owa, train.Count);
    }

    private static double Smape(float[] actual, float[] forecast)
    {
        double sum = 0;
        for (int h = 0; h < actual.Length; h++)
        {
            double denominator = Math.Abs(actual[h]) + Math.Abs(forecast[h]);
            sum += denominator == 0 ? 0 : 200 * Math.Abs(actual[h] - forecast[h]) / denominator;
        }
        return sum / actual.Length;
    }

    /// <summary>The mean of the same hour over the last <paramref name="cycles"/> days: the model's seasonal reference on its own.</summary>
    private static float[] SeasonalMean(float[] history, int cycles)
    {
        var forecast = new float[Horizon];
        for (int h = 0; h < Horizon; h++)
        {
            float sum = 0;
            for (int c = 1; c <= cycles; c++)
            {
                sum += history[history.Length - (c * Period) + (h % Period)];
            }
            forecast[h] = sum / cycles;
        }
        return forecast;
    }

    /// <summary>M4's Naive2: the last value of the deseasonalised series, reseasonalised, when the series is seasonal.</summary>
    private static float[] Naive2(float[] history)
    {
        var indices = SeasonalIndices(history);
        var forecast = new float[Horizon];
        int n = history.Length;
        float last = history[n - 1] / indices[(n - 1) % Period];
        for (int h = 0; h < Horizon; h++)
        {
            forecast[h] = last * indices[(n + h) % Period];
        }
        return forecast;
    }

    /// <summary>
    /// Classical multiplicative seasonal indices by position in the period (t mod 24), all 1 unless the lag-24
    /// autocorrelation exceeds 1.645 × its standard error (the M4 benchmarks' seasonality test, 90 %).
    /// </summary>
    private static float[] SeasonalIndices(float[] x)
    {
        var indices = new float[Period];
        Array.Fill(indices, 1f);
        int n = x.Length;
        if (n < 3 * Period)
        {
            return indices;
        }
        double mean = x.Average(v => (double)v);
        double denominator = x.Sum(v => (v - mean) * (v - mean));
        if (denominator <= 0)
        {
            return indices;
        }
        double Acf(int lag)
        {
            double sum = 0;
            for (int t = lag; t < n; t++)
            {
                sum += (x[t] - mean) * (x[t - lag] - mean);
            }
            return sum / denominator;
        }
        double squares = 0;
        for (int k = 1; k < Period; k++)
        {
            double r = Acf(k);
            squares += r * r;
        }
        if (Math.Abs(Acf(Period)) <= 1.645 * Math.Sqrt((1 + (2 * squares)) / n))
        {
            return indices;
        }
        // Centred 2×24 moving average, then the mean ratio of value to trend per position.
        var ratio = new double[Period];
        var count = new int[Period];
        for (int t = Period / 2; t < n - (Period / 2); t++)
        {
            double sum = 0.5 * (x[t - (Period / 2)] + x[t + (Period / 2)]);
            for (int j = t - (Period / 2) + 1; j < t + (Period / 2); j++)
            {
                sum += x[j];
            }
            double trend = sum / Period;
            if (trend != 0)
            {
                ratio[t % Period] += x[t] / trend;
                count[t % Period]++;
            }
        }
        double total = 0;
        for (int p = 0; p < Period; p++)
        {
            ratio[p] = count[p] > 0 ? ratio[p] / count[p] : 1;
            total += ratio[p];
        }
        for (int p = 0; p < Period; p++)
        {
            indices[p] = (float)(ratio[p] * Period / total);
        }
        return indices;
    }
}
