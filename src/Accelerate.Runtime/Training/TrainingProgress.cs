using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Accelerate;

/// <summary>
/// A progress bar for a training loop, shown by the main process only: a live Spectre.Console bar
/// in an interactive terminal; when output is redirected (a log file, CI, the launcher's prefixed
/// output) a plain line every tenth of the way and at the end.
/// </summary>
public sealed class TrainingProgress : IDisposable
{
    private readonly long _total;
    private readonly string _description;
    private readonly bool _enabled;
    private readonly TextWriter? _plain;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly SemaphoreSlim _changed = new(0);
    private readonly Task? _live;
    private long _done;
    private long _lastReportedTenth = -1;
    private string _status = "";
    private volatile bool _finished;

    internal TrainingProgress(long total, string description, bool enabled, TextWriter? plainOutput = null)
    {
        _total = Math.Max(1, total);
        _description = description;
        _enabled = enabled;
        if (!enabled) return;
        var interactive = plainOutput is null && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (interactive) _live = Task.Run(RenderLive);
        else _plain = plainOutput ?? Console.Out;
    }

    /// <summary>Creates a bar that writes plain lines to <paramref name="output"/> (for logs and tests).</summary>
    public static TrainingProgress Plain(long total, string description, TextWriter output) => new(total, description, true, output);

    /// <summary>Steps completed so far.</summary>
    public long Completed => Interlocked.Read(ref _done);

    /// <summary>Marks <paramref name="steps"/> more steps done, with an optional status such as the loss.</summary>
    public void Advance(long steps = 1, string? status = null)
    {
        if (!_enabled) return;
        var done = Interlocked.Add(ref _done, steps);
        if (status is not null) _status = status;
        if (_plain is not null)
        {
            var tenth = Math.Min(10, done * 10 / _total);
            if (tenth != _lastReportedTenth || done >= _total)
            {
                _lastReportedTenth = tenth;
                WritePlain(done);
            }
        }
        else _changed.Release();
    }

    /// <summary>Completes the bar.</summary>
    public void Dispose()
    {
        if (!_enabled || _finished) return;
        _finished = true;
        _changed.Release();
        _live?.Wait();
        _changed.Dispose();
    }

    private void WritePlain(long done)
    {
        var rate = done / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
        var line = string.Format(CultureInfo.InvariantCulture, "{0}: {1}/{2} ({3:0}%) {4:0.0} it/s", _description, done, _total, 100.0 * done / _total, rate);
        if (_status.Length > 0) line += " " + _status;
        _plain!.WriteLine(line);
    }

    private async Task RenderLive()
    {
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(_description), maxValue: _total);
                while (!_finished)
                {
                    await _changed.WaitAsync(TimeSpan.FromMilliseconds(250));
                    task.Value = Interlocked.Read(ref _done);
                    if (_status.Length > 0) task.Description = Markup.Escape($"{_description} {_status}");
                }
                task.Value = Interlocked.Read(ref _done);
                task.StopTask();
            });
    }
}
