namespace AnomalyMeta.Periodicity.Synthetic;

/// <summary>Shape of a generated series; periods in points, amplitudes relative to a unit seasonal standard deviation.</summary>
/// <param name="Length">Number of points.</param>
/// <param name="Period">Primary period, 0 for an aperiodic series.</param>
/// <param name="SecondaryPeriod">Longer period (a multiple of <paramref name="Period"/>) modulating the primary season, 0 for none.</param>
/// <param name="NoiseLevel">Standard deviation of the Gaussian noise.</param>
/// <param name="MissingRate">Share of points replaced by NaN.</param>
/// <param name="Disturbed">Adds a trend, up to two level shifts and 1% spikes.</param>
public readonly record struct SyntheticSpec(
    int Length, int Period, int SecondaryPeriod, float NoiseLevel, float MissingRate, bool Disturbed);

/// <summary>
/// Series with known periods for tests and benchmarks: a seasonal profile of up to three harmonics (optionally
/// modulated by a longer period, like weekdays on hourly data), Gaussian noise, trend, level shifts, spikes and gaps.
/// Aperiodic series are white noise, AR(1) or random walks with the same disturbances.
/// </summary>
public static class SyntheticSeries
{
    /// <summary>Generates one series; the same <paramref name="random"/> state gives the same series.</summary>
    public static float[] Generate(in SyntheticSpec spec, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        int n = spec.Length;
        var values = new float[n];
        if (spec.Period > 0)
        {
            AddSeason(values, spec.Period, spec.SecondaryPeriod, random);
            for (int t = 0; t < n; t++)
            {
                values[t] += spec.NoiseLevel * Gaussian(random);
            }
        }
        else
        {
            AddAperiodic(values, spec.NoiseLevel, random);
        }

        if (spec.Disturbed)
        {
            AddDisturbances(values, random);
        }

        for (int t = 0; t < n; t++)
        {
            if (random.NextSingle() < spec.MissingRate)
            {
                values[t] = float.NaN;
            }
        }

        return values;
    }

    /// <summary>Standard normal draw (Box-Muller).</summary>
    public static float Gaussian(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    private static void AddSeason(float[] values, int period, int secondaryPeriod, Random random)
    {
        // The fundamental dominates; harmonics 2 and 3 give peaked, asymmetric daily shapes.
        Span<double> amplitude = [1.0, 0.6 * random.NextDouble(), 0.35 * random.NextDouble()];
        Span<double> phase = [2 * Math.PI * random.NextDouble(), 2 * Math.PI * random.NextDouble(), 2 * Math.PI * random.NextDouble()];
        double norm = Math.Sqrt(0.5 * ((amplitude[0] * amplitude[0]) + (amplitude[1] * amplitude[1]) + (amplitude[2] * amplitude[2])));
        int cycles = secondaryPeriod > 0 ? secondaryPeriod / period : 1;
        Span<double> cycleScale = stackalloc double[cycles];
        Span<double> cycleLevel = stackalloc double[cycles];
        for (int c = 0; c < cycles; c++)
        {
            cycleScale[c] = 1.0;
            cycleLevel[c] = 0.0;
        }

        if (cycles > 1)
        {
            // Like a weekend: two consecutive cycles with a damped profile and a lower level.
            int quiet = random.Next(cycles);
            for (int c = 0; c < cycles; c++)
            {
                bool isQuiet = c == quiet || c == (quiet + 1) % cycles;
                cycleScale[c] = isQuiet ? 0.3 + (0.3 * random.NextDouble()) : 0.9 + (0.2 * random.NextDouble());
                cycleLevel[c] = isQuiet ? -0.8 - (0.4 * random.NextDouble()) : 0.2 * Gaussian(random);
            }
        }

        for (int t = 0; t < values.Length; t++)
        {
            double x = 2 * Math.PI * (t % period) / period;
            double s = 0;
            for (int h = 0; h < 3; h++)
            {
                s += amplitude[h] * Math.Sin(((h + 1) * x) + phase[h]);
            }

            int cycle = (t / period) % cycles;
            values[t] += (float)((s / norm * cycleScale[cycle]) + cycleLevel[cycle]);
        }
    }

    private static void AddAperiodic(float[] values, float noiseLevel, Random random)
    {
        int kind = random.Next(3);
        double phi = 0.5 + (0.45 * random.NextDouble());
        double state = 0;
        float scale = Math.Max(noiseLevel, 0.1f);
        for (int t = 0; t < values.Length; t++)
        {
            double e = scale * Gaussian(random);
            state = kind switch
            {
                0 => e,
                1 => (phi * state) + e,
                _ => state + (0.3 * e),
            };
            values[t] = (float)state + (kind == 2 ? 0.3f * scale * Gaussian(random) : 0f);
        }
    }

    private static void AddDisturbances(float[] values, Random random)
    {
        int n = values.Length;
        double slope = (6.0 * random.NextDouble() - 3.0) / n;
        int shifts = random.Next(3);
        Span<int> shiftAt = stackalloc int[2];
        Span<double> shiftBy = stackalloc double[2];
        for (int i = 0; i < shifts; i++)
        {
            shiftAt[i] = random.Next(n / 5, n - (n / 5));
            shiftBy[i] = (4.0 * random.NextDouble()) - 2.0;
        }

        for (int t = 0; t < n; t++)
        {
            double level = slope * t;
            for (int i = 0; i < shifts; i++)
            {
                if (t >= shiftAt[i])
                {
                    level += shiftBy[i];
                }
            }

            values[t] += (float)level;
            if (random.NextSingle() < 0.01f)
            {
                values[t] += (random.Next(2) == 0 ? -1f : 1f) * (5f + (5f * random.NextSingle()));
            }
        }
    }
}
