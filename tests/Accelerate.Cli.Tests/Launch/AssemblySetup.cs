// Launcher tests start real processes; two at a time keeps a 2-core machine busy without starving the timeouts.
[assembly: Parallelize(Workers = 2, Scope = ExecutionScope.ClassLevel)]
