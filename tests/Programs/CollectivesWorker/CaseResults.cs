using Accelerate;

/// <summary>
/// The cases a scenario checks and those that failed; its verdict is the line the tests read:
/// <c>PASS n cases</c> (they count n independently) or <c>FAIL k of n cases</c>, the first mismatches on stderr.
/// </summary>
internal sealed class CaseResults
{
    private readonly List<string> _failures = [];
    private int _cases;

    public void Expect(bool ok, string what)
    {
        _cases++;
        if (!ok) _failures.Add(what);
    }

    /// <summary>Prints the verdict for <paramref name="rank"/>; returns the exit code.</summary>
    public int Verdict(int rank)
    {
        foreach (var failure in _failures.Take(20)) Console.Error.WriteLine($"MISMATCH rank {rank}: {failure}");
        Console.WriteLine(_failures.Count == 0 ? $"PASS {_cases} cases" : $"FAIL {_failures.Count} of {_cases} cases");
        return _failures.Count == 0 ? 0 : 1;
    }

    /// <summary>Runs each case and prints <c>CASE name outcome</c>: <c>returned</c>, or the error it ended in.</summary>
    public static void PrintOutcomes(IEnumerable<(string Name, Action Run)> cases)
    {
        foreach (var (name, run) in cases)
        {
            string outcome;
            try
            {
                run();
                outcome = "returned";
            }
            catch (AccelerateException e)
            {
                outcome = $"{e.Code} {e.Message}";
            }
            catch (Exception e)
            {
                outcome = $"{e.GetType().Name} {e.Message}";
            }
            Console.WriteLine($"CASE {name} {outcome.ReplaceLineEndings(" ")}");
        }
    }
}
